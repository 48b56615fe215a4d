package codec_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/reactorkit/reactor/codec"
)

func lengthDecoder(p codec.LengthPrefixed) decoder {
	return func(b []byte) (string, int, error) {
		payload, n, err := p.Decode(b)
		return string(payload), n, err
	}
}

func TestLengthPrefixedDecode(t *testing.T) {
	be1 := codec.LengthPrefixed{HeaderSize: 1}
	le2 := codec.LengthPrefixed{HeaderSize: 2, LittleEndian: true}
	be8 := codec.LengthPrefixed{HeaderSize: 8}
	tests := []struct {
		name  string
		p     codec.LengthPrefixed
		input string
		want  result
	}{
		{"default 4 byte big-endian", codec.LengthPrefixed{}, "\x00\x00\x00\x03abc\x00\x00\x00\x00", result{[]string{"abc", ""}, 11, needMore}},
		{"partial header", codec.LengthPrefixed{}, "\x00\x00\x00", result{nil, 0, needMore}},
		{"partial payload", codec.LengthPrefixed{}, "\x00\x00\x00\x03ab", result{nil, 0, needMore}},
		{"1 byte", be1, "\x03abc\x00\x01z", result{[]string{"abc", "", "z"}, 7, needMore}},
		{"1 byte 255", codec.LengthPrefixed{HeaderSize: 1, MaxFrame: 255}, "\xff", result{nil, 0, needMore}},
		{"2 byte little-endian", le2, "\x03\x00abc\x01", result{[]string{"abc"}, 5, needMore}},
		{"2 byte big-endian", codec.LengthPrefixed{HeaderSize: 2}, "\x00\x03abc", result{[]string{"abc"}, 5, needMore}},
		{"8 byte big-endian", be8, "\x00\x00\x00\x00\x00\x00\x00\x02hi", result{[]string{"hi"}, 10, needMore}},
		{"8 byte little-endian", codec.LengthPrefixed{HeaderSize: 8, LittleEndian: true}, "\x02\x00\x00\x00\x00\x00\x00\x00hi", result{[]string{"hi"}, 10, needMore}},
		{"cloudhash", codec.CloudHash(), "\x0e\x00\x00\x00SET Prez obama", result{[]string{"SET Prez obama"}, 18, needMore}},
		{"cloudhash negative", codec.CloudHash(), "\xff\xff\xff\xff", result{nil, 0, negative}},
		{"cloudhash most negative", codec.CloudHash(), "\x00\x00\x00\x80", result{nil, 0, negative}},
		{"signed 1 byte negative", codec.LengthPrefixed{HeaderSize: 1, Signed: true}, "\x80", result{nil, 0, negative}},
		{"signed 1 byte positive", codec.LengthPrefixed{HeaderSize: 1, Signed: true}, "\x01a", result{[]string{"a"}, 2, needMore}},
		{"signed 8 byte negative", codec.LengthPrefixed{HeaderSize: 8, Signed: true}, "\x80\x00\x00\x00\x00\x00\x00\x00", result{nil, 0, negative}},
		{"unsigned high bit is large", codec.LengthPrefixed{}, "\xff\xff\xff\xff", result{nil, 0, tooLarge}},
		{"over max frame before payload", codec.LengthPrefixed{MaxFrame: 4}, "\x00\x00\x00\x05", result{nil, 0, tooLarge}},
		{"at max frame", codec.LengthPrefixed{MaxFrame: 4}, "\x00\x00\x00\x04abcd", result{[]string{"abcd"}, 8, needMore}},
		{"over default max frame", codec.LengthPrefixed{}, "\x00\x10\x00\x01", result{nil, 0, tooLarge}},
		{"8 byte huge", be8, "\xff\xff\xff\xff\xff\xff\xff\xff", result{nil, 0, tooLarge}},
		{"8 byte over int", codec.LengthPrefixed{HeaderSize: 8, MaxFrame: math.MaxInt}, "\x7f\xff\xff\xff\xff\xff\xff\xff", result{nil, 0, tooLarge}},
		{"error after frames", be1, "\x01a\x02bc\x00", result{[]string{"a", "bc", ""}, 6, needMore}},
		{"includes header", codec.LengthPrefixed{HeaderSize: 2, IncludesHeader: true}, "\x00\x05abc\x00\x02", result{[]string{"abc", ""}, 7, needMore}},
		{"includes header too short", codec.LengthPrefixed{HeaderSize: 2, IncludesHeader: true}, "\x00\x01", result{nil, 0, negative}},
		{"includes header max", codec.LengthPrefixed{HeaderSize: 1, IncludesHeader: true, MaxFrame: 3}, "\x04abc\x05", result{[]string{"abc"}, 4, tooLarge}},
		{"bad header size", codec.LengthPrefixed{HeaderSize: 3}, "\x00\x00\x01a", result{nil, 0, badConfig}},
		{"negative header size", codec.LengthPrefixed{HeaderSize: -1}, "\x00", result{nil, 0, badConfig}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSplits(t, lengthDecoder(tt.p), []byte(tt.input), tt.want)
		})
	}
}

// TestLengthPrefixedNoWait checks that a bad length is reported from the
// header alone, however much payload it announces.
func TestLengthPrefixedNoWait(t *testing.T) {
	for _, tt := range []struct {
		p      codec.LengthPrefixed
		header string
		want   error
	}{
		{codec.CloudHash(), "\xfe\xff\xff\xff", codec.ErrNegativeLength},
		{codec.CloudHash(), "\x01\x00\x10\x00", codec.ErrFrameTooLarge},
		{codec.LengthPrefixed{HeaderSize: 8}, "\x00\x00\x00\x01\x00\x00\x00\x00", codec.ErrFrameTooLarge},
	} {
		_, n, err := tt.p.Decode([]byte(tt.header))
		if !errors.Is(err, tt.want) || n != 0 {
			t.Errorf("%+v.Decode(%q) = n %d, %v; want %v", tt.p, tt.header, n, err, tt.want)
		}
	}
}

func TestLengthPrefixedEncode(t *testing.T) {
	tests := []struct {
		name    string
		p       codec.LengthPrefixed
		payload []byte
		want    string
		err     error
	}{
		{"default", codec.LengthPrefixed{}, []byte("abc"), "\x00\x00\x00\x03abc", nil},
		{"empty", codec.LengthPrefixed{}, nil, "\x00\x00\x00\x00", nil},
		{"1 byte", codec.LengthPrefixed{HeaderSize: 1}, []byte("ab"), "\x02ab", nil},
		{"1 byte limit", codec.LengthPrefixed{HeaderSize: 1}, make([]byte, 256), "", codec.ErrFrameTooLarge},
		{"1 byte max", codec.LengthPrefixed{HeaderSize: 1}, bytes.Repeat([]byte("x"), 255), "\xff" + string(bytes.Repeat([]byte("x"), 255)), nil},
		{"signed 1 byte limit", codec.LengthPrefixed{HeaderSize: 1, Signed: true}, make([]byte, 128), "", codec.ErrFrameTooLarge},
		{"includes header limit", codec.LengthPrefixed{HeaderSize: 1, IncludesHeader: true}, make([]byte, 255), "", codec.ErrFrameTooLarge},
		{"includes header", codec.LengthPrefixed{HeaderSize: 2, IncludesHeader: true}, []byte("abc"), "\x00\x05abc", nil},
		{"2 byte little-endian", codec.LengthPrefixed{HeaderSize: 2, LittleEndian: true}, []byte("abc"), "\x03\x00abc", nil},
		{"8 byte", codec.LengthPrefixed{HeaderSize: 8}, []byte("a"), "\x00\x00\x00\x00\x00\x00\x00\x01a", nil},
		{"cloudhash", codec.CloudHash(), []byte("SET Prez obama"), "\x0e\x00\x00\x00SET Prez obama", nil},
		{"max frame", codec.LengthPrefixed{MaxFrame: 2}, []byte("abc"), "", codec.ErrFrameTooLarge},
		{"default max frame", codec.LengthPrefixed{}, make([]byte, codec.DefaultMaxFrame+1), "", codec.ErrFrameTooLarge},
		{"bad config", codec.LengthPrefixed{HeaderSize: 5}, []byte("a"), "", codec.ErrBadConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Encode([]byte("pre"), tt.payload)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Encode error %v, want %v", err, tt.err)
			}
			if string(got) != "pre"+tt.want {
				t.Fatalf("Encode = %q, want %q", got, "pre"+tt.want)
			}
			if err != nil {
				return
			}
			back, n, err := tt.p.Decode(got[3:])
			if err != nil || n != len(got)-3 || !bytes.Equal(back, tt.payload) {
				t.Fatalf("Decode(Encode(x)) = %q, %d, %v", back, n, err)
			}
		})
	}
}
