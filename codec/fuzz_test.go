package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/reactorkit/reactor/codec"
)

// The fuzz targets share one shape: decode the input as a stream, checking
// every frame against the codec's rules (or a plain reference decoder);
// decode it again split at a fuzzed offset and compare; and check that what
// the encoder writes decodes back to what it was given. Small fuzzed limits
// make the over-limit paths easy to reach. Seed corpora are in
// testdata/fuzz/<target>.

// splitAt picks a split offset in [0, len(data)].
func splitAt(data []byte, split uint16) int {
	return int(split) % (len(data) + 1)
}

// refLine is a plain reference for Line.Decode: look at all of b, then
// decide.
func refLine(b []byte, maxLen int, strict bool) (line []byte, n int, err error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		content := len(b)
		if content > 0 && b[content-1] == '\r' {
			content-- // the CR may yet be the terminator's
		}
		if content > maxLen {
			return nil, 0, codec.ErrLineTooLong
		}
		return nil, 0, codec.ErrNeedMore
	}
	end := i
	cr := end > 0 && b[end-1] == '\r'
	if cr {
		end--
	}
	if end > maxLen {
		return nil, 0, codec.ErrLineTooLong
	}
	if strict && !cr {
		return nil, 0, codec.ErrMissingCR
	}
	return b[:end], i + 1, nil
}

func FuzzLine(f *testing.F) {
	f.Add([]byte("USER anonymous\r\nPASS x\r\n"), uint8(0), false, uint16(3))
	f.Add([]byte("abc\ndef\r\n"), uint8(3), true, uint16(5))
	f.Add([]byte("12345678\r"), uint8(8), false, uint16(9))
	f.Fuzz(func(t *testing.T, data []byte, maxLen uint8, strict bool, split uint16) {
		l := codec.Line{MaxLen: int(maxLen), StrictCRLF: strict}
		limit := int(maxLen)
		if limit == 0 {
			limit = codec.DefaultMaxLine
		}
		for b := data; ; {
			line, n, err := l.Decode(b)
			refLine, refN, refErr := refLine(b, limit, strict)
			if errKind(err) != errKind(refErr) || n != refN || !bytes.Equal(line, refLine) {
				t.Fatalf("Decode(%q) = %q, %d, %v; reference %q, %d, %v", b, line, n, err, refLine, refN, refErr)
			}
			if err != nil {
				break
			}
			if len(line) > 0 && &line[0] != &b[0] {
				t.Fatal("line is not a slice of the input")
			}
			b = b[n:]
		}
		dec := lineDecoder(l)
		whole := stream(t, dec, data)
		if at := splitAt(data, split); !stream(t, dec, data[:at], data[at:]).equal(whole) {
			t.Fatalf("split at %d decodes differently from %v", at, whole)
		}
		enc, err := l.Encode(nil, data)
		switch {
		case len(data) > limit:
			if !errors.Is(err, codec.ErrLineTooLong) {
				t.Fatalf("Encode of %d bytes over %d: %v", len(data), limit, err)
			}
		case bytes.IndexByte(data, '\n') >= 0:
			if !errors.Is(err, codec.ErrNewline) {
				t.Fatalf("Encode of a line with LF: %v", err)
			}
		case err != nil:
			t.Fatalf("Encode(%q): %v", data, err)
		default:
			back, n, err := l.Decode(enc)
			if err != nil || n != len(enc) || !bytes.Equal(back, data) {
				t.Fatalf("Decode(Encode(%q)) = %q, %d, %v", data, back, n, err)
			}
		}
	})
}

func FuzzLengthPrefixed(f *testing.F) {
	f.Add([]byte("\x0e\x00\x00\x00SET Prez obama"), uint8(4), uint8(3), uint16(0), uint16(6))
	f.Add([]byte("\x00\x05abc"), uint8(2), uint8(4), uint16(100), uint16(1))
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff"), uint8(8), uint8(2), uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, size, flags uint8, maxFrame, split uint16) {
		p := codec.LengthPrefixed{
			HeaderSize:     int(size % 10), // some invalid sizes too
			LittleEndian:   flags&1 != 0,
			Signed:         flags&2 != 0,
			IncludesHeader: flags&4 != 0,
			MaxFrame:       int(maxFrame),
		}
		hs := p.HeaderSize
		if hs == 0 {
			hs = 4
		}
		valid := hs == 1 || hs == 2 || hs == 4 || hs == 8
		limit := uint64(codec.DefaultMaxFrame)
		if maxFrame > 0 {
			limit = uint64(maxFrame)
		}
		for b := data; ; {
			payload, n, err := p.Decode(b)
			if n < 0 || n > len(b) {
				t.Fatalf("consumed %d of %d", n, len(b))
			}
			if !valid {
				if !errors.Is(err, codec.ErrBadConfig) {
					t.Fatalf("header size %d: %v", p.HeaderSize, err)
				}
				break
			}
			if len(b) < hs {
				if err != codec.ErrNeedMore {
					t.Fatalf("%d bytes of a %d-byte header: %v", len(b), hs, err)
				}
				break
			}
			// Reference: read the header a byte at a time as a big integer.
			hdr := bytes.Clone(b[:hs])
			if p.LittleEndian {
				for i, j := 0, hs-1; i < j; i, j = i+1, j-1 {
					hdr[i], hdr[j] = hdr[j], hdr[i]
				}
			}
			var u uint64
			for _, c := range hdr {
				u = u<<8 | uint64(c)
			}
			negative := p.Signed && hdr[0]&0x80 != 0
			if p.IncludesHeader && !negative {
				negative = u < uint64(hs)
				u -= uint64(hs)
			}
			switch {
			case negative:
				if !errors.Is(err, codec.ErrNegativeLength) {
					t.Fatalf("header %x: %v, want ErrNegativeLength", hdr, err)
				}
			case u > limit:
				if !errors.Is(err, codec.ErrFrameTooLarge) {
					t.Fatalf("header %x, limit %d: %v, want ErrFrameTooLarge", hdr, limit, err)
				}
			case uint64(len(b)-hs) < u:
				if err != codec.ErrNeedMore {
					t.Fatalf("header %x, %d bytes: %v, want ErrNeedMore", hdr, len(b), err)
				}
			default:
				if err != nil || n != hs+int(u) || !bytes.Equal(payload, b[hs:n]) {
					t.Fatalf("header %x: %q, %d, %v", hdr, payload, n, err)
				}
			}
			if err != nil {
				break
			}
			b = b[n:]
		}
		dec := lengthDecoder(p)
		whole := stream(t, dec, data)
		if at := splitAt(data, split); !stream(t, dec, data[:at], data[at:]).equal(whole) {
			t.Fatalf("split at %d decodes differently from %v", at, whole)
		}
		enc, err := p.Encode(nil, data)
		if !valid {
			if !errors.Is(err, codec.ErrBadConfig) {
				t.Fatalf("Encode with header size %d: %v", p.HeaderSize, err)
			}
			return
		}
		bits := 8 * hs
		if p.Signed {
			bits--
		}
		encLimit := ^uint64(0) >> (64 - bits)
		if p.IncludesHeader {
			encLimit -= uint64(hs)
		}
		encLimit = min(encLimit, limit)
		if tooLarge := uint64(len(data)) > encLimit; tooLarge || err != nil {
			if !tooLarge || !errors.Is(err, codec.ErrFrameTooLarge) {
				t.Fatalf("Encode of %d bytes (limit %d): %v", len(data), encLimit, err)
			}
			return
		}
		back, n, err := p.Decode(enc)
		if err != nil || n != len(enc) || !bytes.Equal(back, data) {
			t.Fatalf("Decode(Encode(%q)) = %q, %d, %v", data, back, n, err)
		}
	})
}

// commandString renders a command's arguments.
func commandString(args [][]byte) string { return fmt.Sprintf("%q", args) }

func FuzzRESP(f *testing.F) {
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nPING\r\n"), uint8(0), uint8(0), uint8(0), uint16(5))
	f.Add([]byte("SET \"a\\x41\" 'b\\'c'\r\n"), uint8(16), uint8(4), uint8(3), uint16(7))
	f.Add([]byte("*2\r\n$1\r\na\r\n*1\r\n:1\r\n"), uint8(8), uint8(2), uint8(1), uint16(11))
	f.Fuzz(func(t *testing.T, data []byte, maxInline, maxBulk, maxArgs uint8, split uint16) {
		r := codec.RESP{MaxInline: int(maxInline), MaxBulk: int64(maxBulk), MaxArgs: int(maxArgs)}
		inlineLimit, bulkLimit, argsLimit := int(maxInline), int(maxBulk), int(maxArgs)
		if inlineLimit == 0 {
			inlineLimit = codec.DefaultMaxInline
		}
		if bulkLimit == 0 {
			bulkLimit = codec.DefaultMaxBulk
		}
		if argsLimit == 0 {
			argsLimit = codec.DefaultMaxArgs
		}

		// Requests: every command respects the limits and survives
		// encoding as multibulk and decoding again.
		var req, again codec.Request
		for b := data; ; {
			n, err := r.DecodeRequest(b, &req)
			if n < 0 || n > len(b) {
				t.Fatalf("DecodeRequest consumed %d of %d", n, len(b))
			}
			if err != nil {
				var pe codec.ProtocolError
				if err != codec.ErrNeedMore && (!errors.As(err, &pe) || strings.Contains(pe.Error(), "unknown")) {
					t.Fatalf("DecodeRequest: unexpected error %v", err)
				}
				break
			}
			if len(req.Args) == 0 || n == 0 {
				t.Fatalf("success with %d args consuming %d bytes", len(req.Args), n)
			}
			// Without its last byte the command is incomplete, and what
			// DecodeRequest then consumes is the empty requests before it.
			start, err := r.DecodeRequest(b[:n-1], &again)
			if err != codec.ErrNeedMore || start >= n {
				t.Fatalf("command of %d bytes less one byte: %d, %v", n, start, err)
			}
			if b[start] == '*' {
				if len(req.Args) > argsLimit {
					t.Fatalf("%d arguments, limit %d", len(req.Args), argsLimit)
				}
				for _, a := range req.Args {
					if len(a) > bulkLimit {
						t.Fatalf("argument of %d bytes, limit %d", len(a), bulkLimit)
					}
				}
			} else if n-start-1 > inlineLimit {
				t.Fatalf("inline command of %d bytes, limit %d", n-start-1, inlineLimit)
			}
			wire := codec.AppendArrayHeader(nil, len(req.Args))
			for _, a := range req.Args {
				wire = codec.AppendBulk(wire, a)
			}
			// Re-decode with the same limits but room for any header line:
			// an inline command may hold more or longer arguments than a
			// multibulk one may, and only then may decoding fail.
			wide := codec.RESP{MaxBulk: r.MaxBulk, MaxArgs: r.MaxArgs}
			want := error(nil)
			if len(req.Args) > argsLimit {
				want = codec.ProtocolError{Kind: codec.InvalidMultibulkLength}
			} else if slices.ContainsFunc(req.Args, func(a []byte) bool { return len(a) > bulkLimit }) {
				want = codec.ProtocolError{Kind: codec.InvalidBulkLength}
			}
			m, err := wide.DecodeRequest(wire, &again)
			if err != want || err == nil && (m != len(wire) || commandString(again.Args) != commandString(req.Args)) {
				t.Fatalf("Decode(Encode(%s)) = %s, %v; want error %v", commandString(req.Args), commandString(again.Args), err, want)
			}
			b = b[n:]
		}
		dec := requestDecoder(r)
		whole := stream(t, dec, data)
		if at := splitAt(data, split); !stream(t, dec, data[:at], data[at:]).equal(whole) {
			t.Fatalf("request split at %d decodes differently from %v", at, whole)
		}

		// Over-limit requests fail with Redis's errors. A header line
		// longer than MaxInline fails first, as in Redis.
		lineFits := func(n int) bool { return 1+len(strconv.Itoa(n)) <= inlineLimit }
		if argsLimit < 1000 {
			over := codec.AppendArrayHeader(nil, argsLimit+1)
			want := codec.ProtocolError{Kind: codec.InvalidMultibulkLength}
			if !lineFits(argsLimit + 1) {
				want.Kind = codec.TooBigMbulkCountString
			}
			if _, err := r.DecodeRequest(over, &req); err != want {
				t.Fatalf("%d arguments over %d: %v, want %v", argsLimit+1, argsLimit, err, want)
			}
		}
		if bulkLimit < 1000 {
			over := codec.AppendBulk(codec.AppendArrayHeader(nil, 1), make([]byte, bulkLimit+1))
			want := codec.ProtocolError{Kind: codec.InvalidBulkLength}
			switch {
			case !lineFits(1):
				want.Kind = codec.TooBigMbulkCountString
			case !lineFits(bulkLimit + 1):
				want.Kind = codec.TooBigBulkCountString
			}
			if _, err := r.DecodeRequest(over, &req); err != want {
				t.Fatalf("bulk of %d bytes over %d: %v, want %v", bulkLimit+1, bulkLimit, err, want)
			}
		}

		// Replies: every value respects the limits and survives encoding
		// and decoding again.
		var vals, back []codec.Reply
		for b := data; ; {
			out, n, err := r.DecodeReply(b, vals[:0])
			if n < 0 || n > len(b) {
				t.Fatalf("DecodeReply consumed %d of %d", n, len(b))
			}
			if err != nil {
				if len(out) != 0 {
					t.Fatal("DecodeReply appended on error")
				}
				break
			}
			vals = out
			checkReplyLimits(t, out[0], 1, inlineLimit, bulkLimit, argsLimit)
			wire := appendReply(nil, out[0])
			back, m, err := r.DecodeReply(wire, back[:0])
			if err != nil || m != len(wire) || formatReply(back[0]) != canonReply(out[0]) {
				t.Fatalf("Decode(Encode(%s)) = %v, %d, %v", formatReply(out[0]), back, m, err)
			}
			b = b[n:]
		}
		dec = replyDecoder(r)
		whole = stream(t, dec, data)
		if at := splitAt(data, split); !stream(t, dec, data[:at], data[at:]).equal(whole) {
			t.Fatalf("reply split at %d decodes differently from %v", at, whole)
		}
	})
}

// checkReplyLimits fails if v breaks a limit DecodeReply enforces.
func checkReplyLimits(t *testing.T, v codec.Reply, depth, inline, bulk, args int) {
	t.Helper()
	switch v.Type {
	case codec.SimpleString, codec.ErrorReply:
		if len(v.Str) > inline {
			t.Fatalf("reply line of %d bytes, limit %d", len(v.Str), inline)
		}
	case codec.BulkString:
		if len(v.Str) > bulk {
			t.Fatalf("bulk reply of %d bytes, limit %d", len(v.Str), bulk)
		}
	case codec.Array:
		if len(v.Elems) > args || depth > codec.MaxReplyDepth {
			t.Fatalf("array of %d elements at depth %d", len(v.Elems), depth)
		}
		for _, e := range v.Elems {
			checkReplyLimits(t, e, depth+1, inline, bulk, args)
		}
	}
}

// canonReply renders v as it comes back from encoding: simple strings and
// errors cannot carry LF, which the encoders write as a space.
func canonReply(v codec.Reply) string {
	s := formatReply(v)
	if v.Type == codec.SimpleString || v.Type == codec.ErrorReply {
		return strings.ReplaceAll(s, "\n", " ")
	}
	if v.Type == codec.Array && !v.Null {
		parts := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			parts[i] = canonReply(e)
		}
		return "*[" + strings.Join(parts, " ") + "]"
	}
	return s
}
