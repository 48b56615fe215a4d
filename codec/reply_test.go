package codec_test

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/reactorkit/reactor/codec"
)

// formatReply renders a reply compactly: +OK, -ERR x, :1, $"foo", $nil,
// *nil, *[...].
func formatReply(v codec.Reply) string {
	switch v.Type {
	case codec.SimpleString, codec.ErrorReply:
		return string(v.Type) + string(v.Str)
	case codec.Integer:
		return ":" + strconv.FormatInt(v.Int, 10)
	case codec.BulkString:
		if v.Null {
			return "$nil"
		}
		return "$" + strconv.Quote(string(v.Str))
	case codec.Array:
		if v.Null {
			return "*nil"
		}
		parts := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			parts[i] = formatReply(e)
		}
		return "*[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("bad type %q", v.Type)
}

// appendReply encodes v with the package's encoders.
func appendReply(dst []byte, v codec.Reply) []byte {
	switch v.Type {
	case codec.SimpleString:
		return codec.AppendSimpleString(dst, string(v.Str))
	case codec.ErrorReply:
		return codec.AppendError(dst, string(v.Str))
	case codec.Integer:
		return codec.AppendInt(dst, v.Int)
	case codec.BulkString:
		if v.Null {
			return codec.AppendNullBulk(dst)
		}
		return codec.AppendBulk(dst, v.Str)
	}
	if v.Null {
		return codec.AppendNullArray(dst)
	}
	dst = codec.AppendArrayHeader(dst, len(v.Elems))
	for _, e := range v.Elems {
		dst = appendReply(dst, e)
	}
	return dst
}

func replyDecoder(r codec.RESP) decoder {
	var vals []codec.Reply
	return func(b []byte) (string, int, error) {
		out, n, err := r.DecodeReply(b, vals[:0])
		if err != nil {
			if len(out) != 0 {
				return "", n, errors.New("DecodeReply appended on error")
			}
			return "", n, err
		}
		vals = out
		return formatReply(out[0]), n, nil
	}
}

func TestRESPDecodeReply(t *testing.T) {
	var def codec.RESP
	small := codec.RESP{MaxInline: 4, MaxBulk: 3, MaxArgs: 2}
	nested := func(depth int) string {
		return strings.Repeat("*1\r\n", depth) + ":1\r\n"
	}
	tests := []struct {
		name  string
		r     codec.RESP
		input string
		want  result
	}{
		{"simple", def, "+OK\r\n", result{[]string{"+OK"}, 5, needMore}},
		{"empty simple", def, "+\r\n", result{[]string{"+"}, 3, needMore}},
		{"error", def, "-ERR unknown\r\n", result{[]string{"-ERR unknown"}, 14, needMore}},
		{"integer", def, ":-42\r\n:0\r\n", result{[]string{":-42", ":0"}, 10, needMore}},
		{"integer extremes", def, ":9223372036854775807\r\n:-9223372036854775808\r\n", result{[]string{":9223372036854775807", ":-9223372036854775808"}, 45, needMore}},
		{"bulk", def, "$3\r\nfoo\r\n", result{[]string{`$"foo"`}, 9, needMore}},
		{"binary bulk", def, "$4\r\n\r\n\x00\xff\r\n", result{[]string{`$"\r\n\x00\xff"`}, 10, needMore}},
		{"empty bulk", def, "$0\r\n\r\n", result{[]string{`$""`}, 6, needMore}},
		{"null bulk", def, "$-1\r\n", result{[]string{"$nil"}, 5, needMore}},
		{"null array", def, "*-1\r\n", result{[]string{"*nil"}, 5, needMore}},
		{"empty array", def, "*0\r\n", result{[]string{"*[]"}, 4, needMore}},
		{"array", def, "*3\r\n:1\r\n$1\r\na\r\n+b\r\n", result{[]string{`*[:1 $"a" +b]`}, 19, needMore}},
		{"nested", def, "*2\r\n*2\r\n:1\r\n*0\r\n*1\r\n$-1\r\n", result{[]string{`*[*[:1 *[]] *[$nil]]`}, 25, needMore}},
		{"max depth", def, nested(codec.MaxReplyDepth), result{[]string{strings.Repeat("*[", codec.MaxReplyDepth) + ":1" + strings.Repeat("]", codec.MaxReplyDepth)}, 4*codec.MaxReplyDepth + 4, needMore}},
		{"too deep", def, nested(codec.MaxReplyDepth + 1), result{nil, 0, tooDeep}},
		{"partial line", def, "+OK\r", result{nil, 0, needMore}},
		{"partial bulk", def, "$3\r\nfo", result{nil, 0, needMore}},
		{"partial array", def, "*2\r\n:1\r\n", result{nil, 0, needMore}},
		{"at limits", small, "+abcd\r\n$3\r\nabc\r\n*2\r\n:1\r\n:2\r\n", result{[]string{"+abcd", `$"abc"`, "*[:1 :2]"}, 28, needMore}},
		{"line too long", small, "+abcde", result{nil, 0, tooLong}},
		{"bulk too large", small, "$4\r\n", result{nil, 0, tooLarge}},
		{"array too large", small, "*3\r\n", result{nil, 0, tooLarge}},
		{"unknown type", def, "?\r\n", result{nil, 0, protoError}},
		{"cr without lf", def, "+OK\rX\r\n", result{nil, 0, protoError}},
		{"bad integer", def, ":1a\r\n", result{nil, 0, protoError}},
		{"integer overflow", def, ":9223372036854775808\r\n", result{nil, 0, protoError}},
		{"bad bulk length", def, "$-2\r\n", result{nil, 0, protoError}},
		{"bad array length", def, "*-2\r\n", result{nil, 0, protoError}},
		{"bulk without crlf", def, "$3\r\nfooXY", result{nil, 0, protoError}},
		{"bad element", def, "*2\r\n:1\r\n?\r\n", result{nil, 0, protoError}},
		{"error after replies", def, "+OK\r\n$x\r\n", result{[]string{"+OK"}, 5, protoError}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSplits(t, replyDecoder(tt.r), []byte(tt.input), tt.want)
		})
	}
}

// TestRESPDecodeReplyStorage checks that DecodeReply keeps what vals held,
// puts the reply at out[len(vals)], and allocates nothing once its storage
// has grown.
func TestRESPDecodeReplyStorage(t *testing.T) {
	var r codec.RESP
	in := []byte("*3\r\n*2\r\n:1\r\n:2\r\n$3\r\nfoo\r\n*1\r\n+x\r\n")
	vals := []codec.Reply{{Type: codec.Integer, Int: 7}}
	out, n, err := r.DecodeReply(in, vals)
	if err != nil || n != len(in) {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if formatReply(out[0]) != ":7" || formatReply(out[1]) != `*[*[:1 :2] $"foo" *[+x]]` {
		t.Fatalf("got %s then %s", formatReply(out[0]), formatReply(out[1]))
	}
	if len(out) != 1+7 {
		t.Fatalf("out holds %d values, want 8", len(out))
	}
	if &out[1].Elems[1].Str[0] != &in[20] {
		t.Fatal("bulk string is not a slice of the input")
	}
	allocs := testing.AllocsPerRun(100, func() {
		if out, _, err = r.DecodeReply(in, out[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("decoding into grown storage allocates %v times", allocs)
	}
}

func TestRESPEncode(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"simple", codec.AppendSimpleString(nil, "OK"), "+OK\r\n"},
		{"simple sanitized", codec.AppendSimpleString(nil, "a\r\nb"), "+a  b\r\n"},
		{"error", codec.AppendError(nil, "ERR "+codec.ProtocolError{Kind: codec.InvalidBulkLength}.Error()), "-ERR Protocol error: invalid bulk length\r\n"},
		{"error sanitized", codec.AppendError(nil, "ERR "+codec.ProtocolError{Kind: codec.ExpectedDollar, Got: '\r'}.Error()), "-ERR Protocol error: expected '$', got ' '\r\n"},
		{"int", codec.AppendInt(nil, -12), ":-12\r\n"},
		{"int min", codec.AppendInt(nil, math.MinInt64), ":-9223372036854775808\r\n"},
		{"bulk", codec.AppendBulk(nil, []byte("a\r\nb")), "$4\r\na\r\nb\r\n"},
		{"nil bulk is empty", codec.AppendBulk(nil, nil), "$0\r\n\r\n"},
		{"bulk string", codec.AppendBulkString(nil, "foo"), "$3\r\nfoo\r\n"},
		{"null bulk", codec.AppendNullBulk(nil), "$-1\r\n"},
		{"array header", codec.AppendArrayHeader(nil, 2), "*2\r\n"},
		{"null array", codec.AppendNullArray(nil), "*-1\r\n"},
		{"appends", codec.AppendInt(codec.AppendSimpleString([]byte("x"), "y"), 1), "x+y\r\n:1\r\n"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// TestRESPRoundTrip encodes replies and requests and decodes them back.
func TestRESPRoundTrip(t *testing.T) {
	var r codec.RESP
	replies := []codec.Reply{
		{Type: codec.SimpleString, Str: []byte("PONG")},
		{Type: codec.ErrorReply, Str: []byte("WRONGTYPE no")},
		{Type: codec.Integer, Int: math.MaxInt64},
		{Type: codec.BulkString, Str: []byte("\x00\r\n")},
		{Type: codec.BulkString, Null: true},
		{Type: codec.Array, Null: true},
		{Type: codec.Array, Elems: []codec.Reply{
			{Type: codec.Array, Elems: []codec.Reply{{Type: codec.Integer, Int: -1}}},
			{Type: codec.BulkString, Str: []byte{}},
			{Type: codec.Array, Elems: []codec.Reply{}},
		}},
	}
	for _, v := range replies {
		wire := appendReply(nil, v)
		out, n, err := r.DecodeReply(wire, nil)
		if err != nil || n != len(wire) || formatReply(out[0]) != formatReply(v) {
			t.Errorf("reply %s: wire %q decoded to %v, n=%d, err=%v", formatReply(v), wire, out, n, err)
		}
	}
	var req codec.Request
	args := [][]byte{[]byte("SET"), []byte("k\r\n"), {}, []byte("*1\r\n")}
	wire := codec.AppendArrayHeader(nil, len(args))
	for _, a := range args {
		wire = codec.AppendBulk(wire, a)
	}
	n, err := r.DecodeRequest(wire, &req)
	if err != nil || n != len(wire) || fmt.Sprintf("%q", req.Args) != fmt.Sprintf("%q", args) {
		t.Errorf("request %q decoded to %q, n=%d, err=%v", wire, req.Args, n, err)
	}
}
