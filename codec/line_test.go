package codec_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/reactorkit/reactor/codec"
)

func lineDecoder(l codec.Line) decoder {
	return func(b []byte) (string, int, error) {
		line, n, err := l.Decode(b)
		return string(line), n, err
	}
}

var (
	needMore   = codec.ErrNeedMore.Error()
	tooLong    = codec.ErrLineTooLong.Error()
	missingCR  = codec.ErrMissingCR.Error()
	tooLarge   = codec.ErrFrameTooLarge.Error()
	negative   = codec.ErrNegativeLength.Error()
	badConfig  = codec.ErrBadConfig.Error()
	protoError = codec.ErrProtocol.Error()
	tooDeep    = codec.ErrNestingTooDeep.Error()
)

func TestLineDecode(t *testing.T) {
	short := codec.Line{MaxLen: 8}
	strict := codec.Line{MaxLen: 8, StrictCRLF: true}
	tests := []struct {
		name  string
		line  codec.Line
		input string
		want  result
	}{
		{"crlf", short, "abc\r\n", result{[]string{"abc"}, 5, needMore}},
		{"bare lf", short, "abc\n", result{[]string{"abc"}, 4, needMore}},
		{"several", short, "abc\r\ndef\nghi\r\n", result{[]string{"abc", "def", "ghi"}, 14, needMore}},
		{"empty lines", short, "\r\n\n", result{[]string{"", ""}, 3, needMore}},
		{"partial", short, "abc", result{nil, 0, needMore}},
		{"partial after cr", short, "ab\r", result{nil, 0, needMore}},
		{"frame then partial", short, "a\nbc", result{[]string{"a"}, 2, needMore}},
		{"lone cr inside", short, "a\rb\n", result{[]string{"a\rb"}, 4, needMore}},
		{"only one cr stripped", short, "a\r\r\n", result{[]string{"a\r"}, 4, needMore}},
		{"binary", short, "\x00\xff\t\n", result{[]string{"\x00\xff\t"}, 4, needMore}},
		{"max with crlf", short, "12345678\r\n", result{[]string{"12345678"}, 10, needMore}},
		{"max with lf", short, "12345678\n", result{[]string{"12345678"}, 9, needMore}},
		{"max then cr waits", short, "12345678\r", result{nil, 0, needMore}},
		{"over max without lf", short, "123456789", result{nil, 0, tooLong}},
		{"over max with lf", short, "123456789\n", result{nil, 0, tooLong}},
		{"max then cr then other", short, "12345678\rx", result{nil, 0, tooLong}},
		{"max plus cr is content", short, "12345678\r\r\n", result{nil, 0, tooLong}},
		{"error after frames", short, "ok\n123456789\n", result{[]string{"ok"}, 3, tooLong}},
		{"error without waiting", short, "123456789" + strings.Repeat("x", 100) + "\n", result{nil, 0, tooLong}},
		{"strict crlf", strict, "abc\r\ndef\r\n", result{[]string{"abc", "def"}, 10, needMore}},
		{"strict bare lf", strict, "abc\r\ndef\n", result{[]string{"abc"}, 5, missingCR}},
		{"strict empty bare lf", strict, "\n", result{nil, 0, missingCR}},
		{"strict lone cr inside", strict, "a\rb\r\n", result{[]string{"a\rb"}, 5, needMore}},
		{"strict max then cr waits", strict, "12345678\r", result{nil, 0, needMore}},
		{"strict over max", strict, "123456789", result{nil, 0, tooLong}},
		{"strict over max with bare lf", strict, "123456789\n", result{nil, 0, tooLong}},
		{"strict max with bare lf", strict, "12345678\n", result{nil, 0, missingCR}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSplits(t, lineDecoder(tt.line), []byte(tt.input), tt.want)
		})
	}
}

func TestLineDefaultMax(t *testing.T) {
	var l codec.Line
	fits := strings.Repeat("a", codec.DefaultMaxLine)
	line, n, err := l.Decode([]byte(fits + "\r\n"))
	if err != nil || n != len(fits)+2 || string(line) != fits {
		t.Fatalf("line of DefaultMaxLine bytes: %d bytes, n=%d, err=%v", len(line), n, err)
	}
	if _, _, err := l.Decode([]byte(fits)); err != codec.ErrNeedMore {
		t.Fatalf("DefaultMaxLine bytes without LF: err=%v, want ErrNeedMore", err)
	}
	if _, _, err := l.Decode([]byte(fits + "a")); !errors.Is(err, codec.ErrLineTooLong) {
		t.Fatalf("DefaultMaxLine+1 bytes without LF: err=%v, want ErrLineTooLong", err)
	}
}

// TestLineHugeMax checks that a MaxLen near MaxInt does not overflow.
func TestLineHugeMax(t *testing.T) {
	l := codec.Line{MaxLen: math.MaxInt}
	if _, _, err := l.Decode([]byte("abc")); err != codec.ErrNeedMore {
		t.Fatalf("partial line: %v", err)
	}
	if line, n, err := l.Decode([]byte("abc\n")); string(line) != "abc" || n != 4 || err != nil {
		t.Fatalf("line: %q, %d, %v", line, n, err)
	}
}

// TestLineZeroCopy checks that the decoded line is a slice of the input, and
// that appending to it cannot overwrite the bytes after it.
func TestLineZeroCopy(t *testing.T) {
	in := []byte("abc\r\ndef\r\n")
	line, _, err := codec.Line{}.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	if &line[0] != &in[0] {
		t.Fatal("line is a copy, not a slice of the input")
	}
	_ = append(line, 'X')
	if !bytes.Equal(in, []byte("abc\r\ndef\r\n")) {
		t.Fatalf("appending to the line changed the input: %q", in)
	}
}

func TestLineEncode(t *testing.T) {
	short := codec.Line{MaxLen: 4}
	tests := []struct {
		name string
		line string
		want string
		err  error
	}{
		{"text", "abc", "pre:abc\r\n", nil},
		{"empty", "", "pre:\r\n", nil},
		{"max", "abcd", "pre:abcd\r\n", nil},
		{"trailing cr survives", "ab\r", "pre:ab\r\r\n", nil},
		{"too long", "abcde", "pre:", codec.ErrLineTooLong},
		{"newline", "a\nb", "pre:", codec.ErrNewline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := short.Encode([]byte("pre:"), []byte(tt.line))
			if string(got) != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Encode(%q) = %q, %v; want %q, %v", tt.line, got, err, tt.want, tt.err)
			}
			if err != nil {
				return
			}
			for _, mode := range []codec.Line{short, {MaxLen: 4, StrictCRLF: true}} {
				back, n, err := mode.Decode(got[len("pre:"):])
				if err != nil || n != len(got)-len("pre:") || string(back) != tt.line {
					t.Fatalf("Decode(Encode(%q)) with %+v = %q, %d, %v", tt.line, mode, back, n, err)
				}
			}
		})
	}
}
