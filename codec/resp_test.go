package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/reactorkit/reactor/codec"
)

// requestDecoder renders each decoded command as its arguments, quoted.
func requestDecoder(r codec.RESP) decoder {
	var req codec.Request
	return func(b []byte) (string, int, error) {
		n, err := r.DecodeRequest(b, &req)
		if err == nil && len(req.Args) == 0 {
			return "", n, errors.New("decoded a command without arguments")
		}
		return fmt.Sprintf("%q", req.Args), n, err
	}
}

// cmds renders commands the way requestDecoder does.
func cmds(cmds ...[]string) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, fmt.Sprintf("%q", c))
	}
	return out
}

func protoErr(kind codec.ProtocolErrorKind) string {
	return codec.ProtocolError{Kind: kind}.Error()
}

func TestRESPDecodeRequest(t *testing.T) {
	var def codec.RESP
	small := codec.RESP{MaxInline: 8, MaxBulk: 4, MaxArgs: 2}
	set := []string{"SET", "k", "v"}
	setWire := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
	tests := []struct {
		name  string
		r     codec.RESP
		input string
		want  result
	}{
		// Multibulk.
		{"multibulk", def, setWire, result{cmds(set), len(setWire), needMore}},
		{"pipeline", def, setWire + "*1\r\n$4\r\nPING\r\n", result{cmds(set, []string{"PING"}), len(setWire) + 14, needMore}},
		{"partial", def, setWire[:len(setWire)-1], result{nil, 0, needMore}},
		{"empty bulk kept", def, "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", result{cmds([]string{"ECHO", ""}), 20, needMore}},
		{"binary bulk", def, "*1\r\n$4\r\n\r\n\x00\xff\r\n", result{cmds([]string{"\r\n\x00\xff"}), 14, needMore}},
		{"zero count skipped", def, "*0\r\n*1\r\n$4\r\nPING\r\n", result{cmds([]string{"PING"}), 18, needMore}},
		{"null count skipped", def, "*-1\r\n", result{nil, 5, needMore}},
		{"negative count skipped", def, "*-7\r\n", result{nil, 5, needMore}},
		{"max args", small, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", result{cmds([]string{"a", "b"}), 18, needMore}},
		{"max bulk", small, "*1\r\n$4\r\nabcd\r\n", result{cmds([]string{"abcd"}), 14, needMore}},
		{"max count line", small, "*0000001", result{nil, 0, needMore}},
		{"max bulk line", small, "*1\r\n$0000001", result{nil, 0, needMore}},
		// Redis skips the byte after a header's CR and the two after a
		// bulk without looking at them.
		{"unchecked terminators", def, "*1\rX$3\rYfooZW*1\r\n$1\r\na\r\n", result{cmds([]string{"foo"}, []string{"a"}), 24, needMore}},
		// Multibulk errors, in processMultibulkBuffer's order.
		{"count not a number", def, "*x\r\n", result{nil, 0, protoErr(codec.InvalidMultibulkLength)}},
		{"count empty", def, "*\r\n", result{nil, 0, protoErr(codec.InvalidMultibulkLength)}},
		{"count leading zero", def, "*01\r\n", result{nil, 0, protoErr(codec.InvalidMultibulkLength)}},
		{"count plus", def, "*+1\r\n", result{nil, 0, protoErr(codec.InvalidMultibulkLength)}},
		{"count minus zero", def, "*-0\r\n", result{nil, 0, protoErr(codec.InvalidMultibulkLength)}},
		{"count space", def, "* 1\r\n", result{nil, 0, protoErr(codec.InvalidMultibulkLength)}},
		{"count overflow", def, "*9223372036854775808\r\n", result{nil, 0, protoErr(codec.InvalidMultibulkLength)}},
		{"count over default", def, "*1048577\r\n", result{nil, 0, protoErr(codec.InvalidMultibulkLength)}},
		{"count over max args", small, "*3\r\n", result{nil, 0, protoErr(codec.InvalidMultibulkLength)}},
		{"count line too big", small, "*12345678", result{nil, 0, protoErr(codec.TooBigMbulkCountString)}},
		{"nul hides the cr", small, "*1\x00\r\n$1\r\na\r\n", result{nil, 0, protoErr(codec.TooBigMbulkCountString)}},
		{"expected dollar", def, "*1\r\n:1\r\n", result{nil, 0, "Protocol error: expected '$', got ':'"}},
		{"expected dollar got cr", def, "*1\r\n\r\n", result{nil, 0, "Protocol error: expected '$', got '\r'"}},
		{"expected dollar after args", def, "*2\r\n$1\r\na\r\nb\r\n", result{nil, 0, "Protocol error: expected '$', got 'b'"}},
		{"expected dollar waits for cr", small, "*1\r\nxxxxxxxx", result{nil, 0, needMore}},
		{"bulk line too big", small, "*1\r\n$12345678", result{nil, 0, protoErr(codec.TooBigBulkCountString)}},
		{"bulk line too big before dollar", small, "*1\r\nxxxxxxxxx", result{nil, 0, protoErr(codec.TooBigBulkCountString)}},
		{"bulk null", def, "*1\r\n$-1\r\n", result{nil, 0, protoErr(codec.InvalidBulkLength)}},
		{"bulk not a number", def, "*1\r\n$x\r\n", result{nil, 0, protoErr(codec.InvalidBulkLength)}},
		{"bulk empty length", def, "*1\r\n$\r\n", result{nil, 0, protoErr(codec.InvalidBulkLength)}},
		{"bulk over default", def, "*1\r\n$536870913\r\n", result{nil, 0, protoErr(codec.InvalidBulkLength)}},
		{"bulk over max", small, "*1\r\n$5\r\n", result{nil, 0, protoErr(codec.InvalidBulkLength)}},
		{"error after commands", def, setWire + "*x\r\n", result{cmds(set), len(setWire), protoErr(codec.InvalidMultibulkLength)}},
		// Inline.
		{"inline", def, "PING\r\n", result{cmds([]string{"PING"}), 6, needMore}},
		{"inline bare lf", def, "SET k v\nGET k\n", result{cmds(set, []string{"GET", "k"}), 14, needMore}},
		{"inline spaces", def, " \t SET  k\t\tv \r\n", result{cmds(set), 15, needMore}},
		{"inline partial", def, "SET k", result{nil, 0, needMore}},
		{"inline blank lines skipped", def, "\r\n\n  \r\nPING\r\n", result{cmds([]string{"PING"}), 13, needMore}},
		{"inline blank then partial", def, "\r\n\r\nPI", result{nil, 4, needMore}},
		{"inline lone cr splits", def, "a\rb\r\n", result{cmds([]string{"a", "b"}), 5, needMore}},
		{"inline vertical tab inside", def, "\va\vb\x0c\n", result{cmds([]string{"a\vb\x0c"}), 6, needMore}},
		{"inline double quotes", def, `SET "a b" "c"` + "\r\n", result{cmds([]string{"SET", "a b", "c"}), 15, needMore}},
		{"inline escapes", def, `"\x41\x6a\n\r\t\b\a\\\"\q"` + "\n", result{cmds([]string{"Aj\n\r\t\b\a\\\"q"}), 27, needMore}},
		{"inline short hex", def, `"\x4" "\xg1"` + "\n", result{cmds([]string{"x4", "xg1"}), 13, needMore}},
		{"inline single quotes", def, `'it\'s' 'a\nb' '"'` + "\n", result{cmds([]string{"it's", `a\nb`, `"`}), 19, needMore}},
		{"inline quote inside arg", def, `ab"c d" x'y'` + "\n", result{cmds([]string{"abc d", "xy"}), 13, needMore}},
		{"inline quote then vtab", def, "\"a\"\vb\n", result{cmds([]string{"a", "b"}), 6, needMore}},
		{"inline empty args kept", def, `SET k ""` + "\r\n", result{cmds([]string{"SET", "k", ""}), 10, needMore}},
		{"inline only empty args", def, `"" ''` + "\r\nPING\r\n", result{cmds([]string{"", ""}, []string{"PING"}), 13, needMore}},
		{"inline escaped nul", def, `"\x00"` + "\n", result{cmds([]string{"\x00"}), 7, needMore}},
		{"inline at max", small, "12345678\n", result{cmds([]string{"12345678"}), 9, needMore}},
		{"inline at max with cr", small, "1234567\r\n", result{cmds([]string{"1234567"}), 9, needMore}},
		{"inline too big", small, "123456789", result{nil, 0, protoErr(codec.TooBigInlineRequest)}},
		{"inline too big with lf", small, "123456789\n", result{nil, 0, protoErr(codec.TooBigInlineRequest)}},
		{"inline nul hides lf", def, "GET a\x00b\r\nPING\r\n", result{nil, 0, needMore}},
		{"inline nul until too big", small, "GET\x00\r\nPING\r\n", result{nil, 0, protoErr(codec.TooBigInlineRequest)}},
		{"unbalanced double", def, `SET "abc` + "\r\n", result{nil, 0, protoErr(codec.UnbalancedQuotes)}},
		{"unbalanced single", def, `SET 'abc` + "\r\n", result{nil, 0, protoErr(codec.UnbalancedQuotes)}},
		{"unbalanced escaped quote", def, `"a\"` + "\r\n", result{nil, 0, protoErr(codec.UnbalancedQuotes)}},
		{"unbalanced trailing backslash", def, `"a\` + "\n", result{nil, 0, protoErr(codec.UnbalancedQuotes)}},
		{"unbalanced single escaped", def, `'a\'` + "\n", result{nil, 0, protoErr(codec.UnbalancedQuotes)}},
		{"text after double quote", def, `"a"b` + "\r\n", result{nil, 0, protoErr(codec.UnbalancedQuotes)}},
		{"text after single quote", def, `'a'b` + "\r\n", result{nil, 0, protoErr(codec.UnbalancedQuotes)}},
		{"quote after quote", def, `"a""b"` + "\r\n", result{nil, 0, protoErr(codec.UnbalancedQuotes)}},
		{"error after inline", def, "PING\r\n\"\r\n", result{cmds([]string{"PING"}), 6, protoErr(codec.UnbalancedQuotes)}},
		{"mixed", def, "PING\r\n" + setWire + "GET k\r\n", result{cmds([]string{"PING"}, set, []string{"GET", "k"}), 6 + len(setWire) + 7, needMore}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSplits(t, requestDecoder(tt.r), []byte(tt.input), tt.want)
		})
	}
}

// TestRESPDecodeRequestLimits checks Redis's default limits at their
// edges, sampling split points since the inputs are large.
func TestRESPDecodeRequestLimits(t *testing.T) {
	var r codec.RESP
	var req codec.Request
	decode := func(s string) (int, error) { return r.DecodeRequest([]byte(s), &req) }

	fits := strings.Repeat("a", codec.DefaultMaxInline-2)
	if n, err := decode(fits + "\r\n"); err != nil || n != len(fits)+2 || len(req.Args) != 1 {
		t.Fatalf("inline of DefaultMaxInline bytes: n=%d err=%v", n, err)
	}
	if _, err := decode(strings.Repeat("a", codec.DefaultMaxInline)); err != codec.ErrNeedMore {
		t.Fatalf("DefaultMaxInline bytes without LF: %v, want ErrNeedMore", err)
	}
	for _, tt := range []struct {
		input string
		kind  codec.ProtocolErrorKind
	}{
		{strings.Repeat("a", codec.DefaultMaxInline+1), codec.TooBigInlineRequest},
		{"*" + strings.Repeat("1", codec.DefaultMaxInline), codec.TooBigMbulkCountString},
		{"*1\r\n$" + strings.Repeat("1", codec.DefaultMaxInline), codec.TooBigBulkCountString},
	} {
		_, err := decode(tt.input)
		if want := (codec.ProtocolError{Kind: tt.kind}); err != want {
			t.Errorf("%d-byte input: %v, want %v", len(tt.input), err, want)
		}
		if _, err := decode(tt.input[:len(tt.input)-1]); err != codec.ErrNeedMore {
			t.Errorf("one byte less: %v, want ErrNeedMore", err)
		}
	}
	// The largest bulk length a MaxBulk of MaxInt64 allows must not
	// overflow the check for its payload.
	huge := codec.RESP{MaxBulk: math.MaxInt64}
	if _, err := huge.DecodeRequest([]byte("*1\r\n$9223372036854775807\r\nabc"), &req); err != codec.ErrNeedMore {
		t.Errorf("bulk of MaxInt64 bytes: %v, want ErrNeedMore", err)
	}
	if _, _, err := huge.DecodeReply([]byte("$9223372036854775807\r\nabc"), nil); err != codec.ErrNeedMore {
		t.Errorf("bulk reply of MaxInt64 bytes: %v, want ErrNeedMore", err)
	}
	// Nor must a MaxInline near MaxInt.
	wide := codec.RESP{MaxInline: math.MaxInt}
	for _, in := range []string{"PING", "*1", "*1\r\n$3"} {
		if _, err := wide.DecodeRequest([]byte(in), &req); err != codec.ErrNeedMore {
			t.Errorf("%q with MaxInline MaxInt: %v, want ErrNeedMore", in, err)
		}
	}
	if _, _, err := wide.DecodeReply([]byte("+OK"), nil); err != codec.ErrNeedMore {
		t.Errorf("reply line with MaxInline MaxInt: %v, want ErrNeedMore", err)
	}
	// The largest bulk Redis allows is announced, then awaited.
	if _, err := decode("*1\r\n$536870912\r\n"); err != codec.ErrNeedMore {
		t.Errorf("bulk of DefaultMaxBulk: %v, want ErrNeedMore", err)
	}
	if _, err := decode("*1048576\r\n"); err != codec.ErrNeedMore {
		t.Errorf("DefaultMaxArgs arguments: %v, want ErrNeedMore", err)
	}
}

// TestRESPRequestZeroCopy checks that arguments are slices of the input,
// that quoted inline arguments leave the input untouched, and that the
// Request's storage is reused.
func TestRESPRequestZeroCopy(t *testing.T) {
	var r codec.RESP
	var req codec.Request
	in := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\nGET \"a\\x41\" b\r\n")
	orig := bytes.Clone(in)
	n, err := r.DecodeRequest(in, &req)
	if err != nil || &req.Args[0][0] != &in[8] || &req.Args[1][0] != &in[17] {
		t.Fatalf("multibulk arguments are not slices of the input (n=%d, err=%v)", n, err)
	}
	m, err := r.DecodeRequest(in[n:], &req)
	if err != nil || n+m != len(in) {
		t.Fatalf("inline: n=%d err=%v", m, err)
	}
	if got := fmt.Sprintf("%q", req.Args); got != `["GET" "aA" "b"]` {
		t.Fatalf("inline args %s", got)
	}
	if &req.Args[0][0] != &in[n] || &req.Args[2][0] != &in[len(in)-3] {
		t.Fatal("unquoted inline arguments are not slices of the input")
	}
	if !bytes.Equal(in, orig) {
		t.Fatalf("DecodeRequest changed its input: %q", in)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.DecodeRequest(in[n:], &req); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("decoding a quoted inline command again allocates %v times", allocs)
	}
}

func TestProtocolError(t *testing.T) {
	for kind, want := range map[codec.ProtocolErrorKind]string{
		codec.TooBigInlineRequest:    "Protocol error: too big inline request",
		codec.UnbalancedQuotes:       "Protocol error: unbalanced quotes in request",
		codec.TooBigMbulkCountString: "Protocol error: too big mbulk count string",
		codec.InvalidMultibulkLength: "Protocol error: invalid multibulk length",
		codec.TooBigBulkCountString:  "Protocol error: too big bulk count string",
		codec.InvalidBulkLength:      "Protocol error: invalid bulk length",
		0:                            "Protocol error: unknown error",
	} {
		err := error(codec.ProtocolError{Kind: kind})
		if err.Error() != want {
			t.Errorf("kind %d: %q, want %q", kind, err.Error(), want)
		}
		if !errors.Is(err, codec.ErrProtocol) {
			t.Errorf("kind %d does not match ErrProtocol", kind)
		}
		wrapped := fmt.Errorf("conn 7: %w", err)
		if !errors.Is(wrapped, codec.ProtocolError{Kind: kind}) || errors.Is(wrapped, codec.ProtocolError{Kind: kind + 1}) {
			t.Errorf("kind %d: errors.Is does not tell kinds apart", kind)
		}
	}
	// Redis formats the byte with %c: raw, even above 0x7f.
	if got := (codec.ProtocolError{Kind: codec.ExpectedDollar, Got: 0xe9}).Error(); got != "Protocol error: expected '$', got '\xe9'" {
		t.Errorf("ExpectedDollar: %q", got)
	}
}

// TestParseInt checks ParseInt against the inputs Redis's string2ll takes
// and the ones it refuses, and that it does not allocate.
func TestParseInt(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1": 1, "-1": -1, "42": 42, "-42": -42, "1000": 1000,
		"9223372036854775807":  math.MaxInt64,
		"-9223372036854775808": math.MinInt64,
	} {
		if got, ok := codec.ParseInt([]byte(in)); got != want || !ok {
			t.Errorf("ParseInt(%q) = %d, %v; want %d, true", in, got, ok, want)
		}
	}
	for _, in := range []string{
		"", "-", "-0", "00", "01", "-01", "+1", " 1", "1 ", "1a", "a", "1.5", "--1",
		"9223372036854775808", "-9223372036854775809", // one past either end
		"10000000000000000000", "18446744073709551615", "99999999999999999999",
	} {
		if got, ok := codec.ParseInt([]byte(in)); got != 0 || ok {
			t.Errorf("ParseInt(%q) = %d, %v; want 0, false", in, got, ok)
		}
	}
	in := []byte("-9223372036854775808")
	if allocs := testing.AllocsPerRun(100, func() { codec.ParseInt(in) }); allocs != 0 {
		t.Errorf("ParseInt allocates %v times", allocs)
	}
}
