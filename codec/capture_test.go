package codec_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reactorkit/reactor/codec"
)

// The captures in testdata are the bytes real clients sent to a fake server;
// testdata/capture.go records them again.

// decodeCapture decodes every command in a capture, and fails unless the
// capture decodes whole, to the last byte. It returns the commands, each
// as its quoted arguments, and how many came inline.
func decodeCapture(t *testing.T, name string) (cmds []string, inline int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var r codec.RESP
	var req codec.Request
	for len(b) > 0 {
		form := b[0]
		n, err := r.DecodeRequest(b, &req)
		if err != nil {
			t.Fatalf("%s: after %d commands: %v (%d bytes left: %.40q)", name, len(cmds), err, len(b), b)
		}
		if form != '*' {
			inline++
		}
		cmds = append(cmds, fmt.Sprintf("%q", req.Args))
		b = b[n:]
	}
	return cmds, inline
}

func TestCaptureRedisCLI(t *testing.T) {
	for _, tt := range []struct {
		file string
		want []string
	}{
		{"redis-cli-set.bin", cmds([]string{"set", "k", "v"})},
		{"redis-cli-get.bin", cmds([]string{"get", "k"})},
		{"redis-cli-mset.bin", cmds([]string{"mset", "a", "1", "b", "2"})},
		// redis-cli reading standard input asks for COMMAND DOCS first,
		// then unquotes each line itself and sends multibulk.
		{"redis-cli-stdin.bin", cmds(
			[]string{"COMMAND", "DOCS"},
			[]string{"SET", "key with spaces", "tab\there" + "A"},
			[]string{"GET", "key with spaces"},
			[]string{"INCR", "counter"},
			[]string{"DEL", "a", "b"},
		)},
	} {
		got, inline := decodeCapture(t, tt.file)
		if !slices.Equal(got, tt.want) || inline != 0 {
			t.Errorf("%s: %d inline, commands\n%s\nwant\n%s", tt.file, inline, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
}

func TestCaptureRedisBenchmark(t *testing.T) {
	for _, tt := range []struct {
		file     string
		requests int // -n
		tests    []string
	}{
		{"redis-benchmark.bin", 20, []string{"PING", "SET", "GET", "INCR", "LPUSH", "MSET"}},
		{"redis-benchmark-pipelined.bin", 50, []string{"PING", "SET", "GET", "INCR", "MSET"}},
	} {
		got, inline := decodeCapture(t, tt.file)
		count := map[string]int{}
		for _, c := range got {
			name := strings.SplitN(strings.Trim(c, `["`), `"`, 2)[0]
			count[name]++
		}
		// redis-benchmark reads the server's config first, then runs
		// PING twice: inline (PING_INLINE) and multibulk (PING_MBULK).
		if count["CONFIG"] != 2 {
			t.Errorf("%s: %d CONFIG GET commands, want 2", tt.file, count["CONFIG"])
		}
		if inline < tt.requests || count["PING"] < 2*tt.requests {
			t.Errorf("%s: %d inline commands, %d PINGs; want at least %d and %d", tt.file, inline, count["PING"], tt.requests, 2*tt.requests)
		}
		for _, name := range tt.tests {
			if count[name] < tt.requests {
				t.Errorf("%s: %d %s commands, want at least %d", tt.file, count[name], name, tt.requests)
			}
		}
		// MSET sets ten keys: 21 arguments.
		mset := func(c string) bool {
			return strings.HasPrefix(c, `["MSET" "key:__rand_int__" `) && strings.Count(c, `" "`) == 20
		}
		if !slices.ContainsFunc(got, mset) {
			t.Errorf("%s: no MSET of ten keys", tt.file)
		}
	}
}

// TestCaptureSplits feeds each capture in pieces: split in two at every
// offset for the small ones, and for all in reads of a few sizes, as a
// socket might deliver them.
func TestCaptureSplits(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bin")
	if err != nil || len(files) < 6 {
		t.Fatalf("captures: %v, %v", files, err)
	}
	dec := requestDecoder(codec.RESP{})
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want := stream(t, dec, b)
		if want.consumed != len(b) || want.err != needMore {
			t.Fatalf("%s: %v", f, want)
		}
		if len(b) < 1024 {
			checkSplits(t, dec, b, want)
		}
		for _, size := range []int{1, 7, 64, 1000, 16 << 10} {
			var chunks [][]byte
			for rest := b; len(rest) > 0; rest = rest[min(size, len(rest)):] {
				chunks = append(chunks, rest[:min(size, len(rest))])
			}
			if got := stream(t, dec, chunks...); !got.equal(want) {
				t.Fatalf("%s in %d-byte reads: %d frames, %d bytes, %s; want %d frames", f, size, len(got.frames), got.consumed, got.err, len(want.frames))
			}
		}
	}
}
