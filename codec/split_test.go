package codec_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/reactorkit/reactor/codec"
)

// decoder adapts a codec to the test driver: it decodes one frame from b and
// renders it as a string, so that frames stay comparable after b is reused.
type decoder func(b []byte) (frame string, n int, err error)

// result is what a stream of input decoded to.
type result struct {
	frames   []string
	consumed int    // bytes discarded: the frames and what the decoder skipped
	err      string // errKind of the error that ended decoding
}

// errKind names err by what callers can match: the sentinel it wraps, or
// the Redis text of a ProtocolError. Detail that depends on how much input
// was buffered is dropped.
func errKind(err error) string {
	if err == nil {
		return ""
	}
	var pe codec.ProtocolError
	if errors.As(err, &pe) {
		return pe.Error()
	}
	for _, s := range []error{
		codec.ErrNeedMore, codec.ErrLineTooLong, codec.ErrMissingCR, codec.ErrNewline,
		codec.ErrFrameTooLarge, codec.ErrNegativeLength, codec.ErrBadConfig,
		codec.ErrNestingTooDeep, codec.ErrProtocol,
	} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "unexpected error: " + err.Error()
}

// stream feeds chunks to dec as a connection delivers them: each chunk is
// appended to what is still buffered (in a fresh array, so a decoder that
// keeps a stale slice shows up), and every complete frame is decoded and
// discarded. The bytes counted by n are discarded even with ErrNeedMore.
// Decoding stops at the first error other than ErrNeedMore.
func stream(t testing.TB, dec decoder, chunks ...[]byte) result {
	t.Helper()
	var res result
	var buf []byte
	for _, c := range chunks {
		if res.err != "" && res.err != needMore {
			break
		}
		buf = append(buf[:len(buf):len(buf)], c...)
		for {
			frame, n, err := dec(buf)
			if n < 0 || n > len(buf) {
				t.Fatalf("decoder consumed %d of %d bytes", n, len(buf))
			}
			buf = buf[n:]
			res.consumed += n
			if errors.Is(err, codec.ErrNeedMore) {
				res.err = errKind(err)
				break
			}
			if err != nil {
				res.err = errKind(err)
				return res
			}
			if n == 0 {
				t.Fatalf("decoder returned frame %q consuming nothing", frame)
			}
			res.frames = append(res.frames, frame)
		}
	}
	return res
}

func (r result) String() string {
	return fmt.Sprintf("frames %q, %d bytes consumed, error %q", r.frames, r.consumed, r.err)
}

func (r result) equal(o result) bool {
	return slices.Equal(r.frames, o.frames) && r.consumed == o.consumed && r.err == o.err
}

// checkSplits decodes input whole, then split in two at every offset, then
// one byte at a time (when short enough to afford it), and fails unless
// every way gives want.
func checkSplits(t *testing.T, dec decoder, input []byte, want result) {
	t.Helper()
	if got := stream(t, dec, input); !got.equal(want) {
		t.Fatalf("whole input %q:\n got %v\nwant %v", input, got, want)
	}
	for i := range len(input) + 1 {
		if got := stream(t, dec, input[:i], input[i:]); !got.equal(want) {
			t.Fatalf("input %q split at %d:\n got %v\nwant %v", input, i, got, want)
		}
	}
	if len(input) > 4096 {
		return
	}
	bytewise := make([][]byte, len(input))
	for i := range input {
		bytewise[i] = input[i : i+1]
	}
	if got := stream(t, dec, bytewise...); !got.equal(want) {
		t.Fatalf("input %q byte by byte:\n got %v\nwant %v", input, got, want)
	}
}

// TestStreamCatchesBadDecoders checks that the driver itself fails a
// decoder that lies about what it consumed.
func TestStreamCatchesBadDecoders(t *testing.T) {
	bad := func(b []byte) (string, int, error) { return "", len(b) + 1, nil }
	ft := &fakeT{TB: t}
	func() {
		defer func() { _ = recover() }()
		stream(ft, bad, []byte("x"))
	}()
	if !ft.failed {
		t.Fatal("stream accepted a decoder that consumed more than it was given")
	}
}

// fakeT records a Fatalf instead of failing the real test, and stops the
// caller with a panic as FailNow's Goexit would.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
