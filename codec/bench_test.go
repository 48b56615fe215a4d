package codec_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/reactorkit/reactor/codec"
)

// Inputs for the benchmarks: 64-byte frames, and pipelines of 16 commands.
var (
	line64     = []byte(strings.Repeat("a", 62) + "\r\n")
	cloud64, _ = codec.CloudHash().Encode(nil, []byte(strings.Repeat("v", 60)))
	// A SET whose multibulk form is exactly 64 bytes.
	set64 = codec.AppendBulkString(codec.AppendBulkString(codec.AppendBulkString(
		codec.AppendArrayHeader(nil, 3), "SET"), "key:000000000001"), strings.Repeat("v", 21))
	inline64  = []byte("SET key:000000000001 " + strings.Repeat("v", 41) + "\r\n")
	reply64   = codec.AppendBulkString(nil, strings.Repeat("v", 57))
	replyMGET = func() []byte {
		b := codec.AppendArrayHeader(nil, 16)
		for range 16 {
			b = codec.AppendBulkString(b, "value")
		}
		return b
	}()
	pipeline16 = func() []byte {
		var b []byte
		for i := range 16 {
			if i%2 == 0 {
				b = append(b, set64...)
			} else {
				b = codec.AppendBulkString(codec.AppendBulkString(codec.AppendArrayHeader(b, 2), "GET"), "key:000000000001")
			}
		}
		return b
	}()
	inlinePipeline16 = bytes.Repeat([]byte("GET key:000000000001\r\n"), 16)
	linePipeline16   = bytes.Repeat(line64, 16)
	cloudPipeline16  = bytes.Repeat(cloud64, 16)
)

func TestBenchmarkInputs(t *testing.T) {
	for name, b := range map[string][]byte{"line": line64, "length-prefixed": cloud64, "multibulk": set64, "inline": inline64, "reply": reply64} {
		if len(b) != 64 {
			t.Errorf("%s frame is %d bytes, want 64", name, len(b))
		}
	}
}

// decodeAll decodes every frame of a pipeline with dec, or fails.
func decodeAll(tb testing.TB, b []byte, frames int, dec func([]byte) (int, error)) {
	for i := range frames {
		n, err := dec(b)
		if err != nil {
			tb.Fatalf("frame %d: %v", i, err)
		}
		b = b[n:]
	}
	if len(b) != 0 {
		tb.Fatalf("%d bytes left", len(b))
	}
}

func lineFunc(l codec.Line) func([]byte) (int, error) {
	return func(b []byte) (int, error) { _, n, err := l.Decode(b); return n, err }
}

func lengthFunc(p codec.LengthPrefixed) func([]byte) (int, error) {
	return func(b []byte) (int, error) { _, n, err := p.Decode(b); return n, err }
}

func requestFunc(req *codec.Request) func([]byte) (int, error) {
	var r codec.RESP
	return func(b []byte) (int, error) { return r.DecodeRequest(b, req) }
}

func replyFunc(vals *[]codec.Reply) func([]byte) (int, error) {
	var r codec.RESP
	return func(b []byte) (n int, err error) {
		*vals, n, err = r.DecodeReply(b, (*vals)[:0])
		return n, err
	}
}

func benchDecode(b *testing.B, input []byte, frames int, dec func([]byte) (int, error)) {
	b.ReportAllocs()
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		decodeAll(b, input, frames, dec)
	}
}

func BenchmarkLineDecode64(b *testing.B) { benchDecode(b, line64, 1, lineFunc(codec.Line{})) }
func BenchmarkLinePipeline16(b *testing.B) {
	benchDecode(b, linePipeline16, 16, lineFunc(codec.Line{}))
}
func BenchmarkLengthPrefixedDecode64(b *testing.B) {
	benchDecode(b, cloud64, 1, lengthFunc(codec.CloudHash()))
}
func BenchmarkLengthPrefixedPipeline16(b *testing.B) {
	benchDecode(b, cloudPipeline16, 16, lengthFunc(codec.CloudHash()))
}
func BenchmarkRESPRequest64(b *testing.B) {
	benchDecode(b, set64, 1, requestFunc(new(codec.Request)))
}
func BenchmarkRESPInline64(b *testing.B) {
	benchDecode(b, inline64, 1, requestFunc(new(codec.Request)))
}
func BenchmarkRESPPipeline16(b *testing.B) {
	benchDecode(b, pipeline16, 16, requestFunc(new(codec.Request)))
}
func BenchmarkRESPInlinePipeline16(b *testing.B) {
	benchDecode(b, inlinePipeline16, 16, requestFunc(new(codec.Request)))
}
func BenchmarkRESPReply64(b *testing.B) {
	benchDecode(b, reply64, 1, replyFunc(new([]codec.Reply)))
}
func BenchmarkRESPReplyArray16(b *testing.B) {
	benchDecode(b, replyMGET, 1, replyFunc(new([]codec.Reply)))
}

// BenchmarkRESPCapture decodes what redis-benchmark -P 16 sent, all of it.
func BenchmarkRESPCapture(b *testing.B) {
	input, err := os.ReadFile("testdata/redis-benchmark-pipelined.bin")
	if err != nil {
		b.Fatal(err)
	}
	var r codec.RESP
	var req codec.Request
	b.ReportAllocs()
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		for rest := input; len(rest) > 0; {
			n, err := r.DecodeRequest(rest, &req)
			if err != nil {
				b.Fatal(err)
			}
			rest = rest[n:]
		}
	}
}

func BenchmarkRESPEncodeReplies16(b *testing.B) {
	buf := make([]byte, 0, 1024)
	val := []byte(strings.Repeat("v", 57))
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for range 4 {
			buf = codec.AppendSimpleString(buf, "OK")
			buf = codec.AppendBulk(buf, val)
			buf = codec.AppendInt(buf, 12345)
			buf = codec.AppendNullBulk(buf)
		}
	}
}

// TestZeroAllocs holds the decoders' fast paths to no allocation per frame,
// so that a regression fails the tests and not only the benchmarks.
func TestZeroAllocs(t *testing.T) {
	var req codec.Request
	var vals []codec.Reply
	for _, tt := range []struct {
		name   string
		input  []byte
		frames int
		dec    func([]byte) (int, error)
	}{
		{"line", linePipeline16, 16, lineFunc(codec.Line{StrictCRLF: true})},
		{"length-prefixed", cloudPipeline16, 16, lengthFunc(codec.CloudHash())},
		{"multibulk", pipeline16, 16, requestFunc(&req)},
		{"inline", inlinePipeline16, 16, requestFunc(&req)},
		{"quoted inline", []byte(`SET "k\x41" 'it\'s'` + "\r\n"), 1, requestFunc(&req)},
		{"reply", reply64, 1, replyFunc(&vals)},
		{"reply array", replyMGET, 1, replyFunc(&vals)},
	} {
		decodeAll(t, tt.input, tt.frames, tt.dec) // warm up the reused storage
		if allocs := testing.AllocsPerRun(50, func() { decodeAll(t, tt.input, tt.frames, tt.dec) }); allocs != 0 {
			t.Errorf("%s: %v allocations per %d frames", tt.name, allocs, tt.frames)
		}
	}
}
