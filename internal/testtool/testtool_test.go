package testtool_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/reactorkit/reactor/internal/testtool"
)

func TestPattern(t *testing.T) {
	a := testtool.Pattern(4096, 1)
	if len(a) != 4096 {
		t.Fatalf("len %d, want 4096", len(a))
	}
	if !bytes.Equal(a, testtool.Pattern(4096, 1)) {
		t.Fatal("the same seed gave different bytes")
	}
	if bytes.Equal(a, testtool.Pattern(4096, 2)) {
		t.Fatal("seeds 1 and 2 gave the same bytes")
	}
	if !bytes.Equal(testtool.Pattern(100, 1), a[:100]) {
		t.Fatal("a shorter pattern is not a prefix of a longer one")
	}
	// A chunk moved by a multiple of a short period would go unnoticed.
	if bytes.Equal(a[:1024], a[1024:2048]) {
		t.Fatal("the pattern repeats within 1 KiB")
	}
}

func TestSyncBuffer(t *testing.T) {
	var b testtool.SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("x", 800) {
		t.Fatalf("%d bytes, want 800", len(got))
	}
}
