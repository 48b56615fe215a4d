package loop_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reactorkit/reactor/loop"
)

// TestAsyncWriteConcurrent writes from 100 goroutines at once to one
// connection: under -race this must be clean, and every message must arrive
// whole, each goroutine's in its order.
func TestAsyncWriteConcurrent(t *testing.T) {
	const writers, each = 100, 50
	p := newRecorder()
	_, addr := serve(t, p)
	c := dial(t, addr)
	sc := <-p.opened

	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				msg := fmt.Sprintf("%03d %04d %s\n", g, i, bytes.Repeat([]byte{'a' + byte(g%26)}, 200+g))
				if err := sc.AsyncWrite([]byte(msg)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	next := make([]int, writers)
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for range writers * each {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var g, i int
		var body string
		if _, err := fmt.Sscanf(line, "%d %d %s\n", &g, &i, &body); err != nil {
			t.Fatalf("torn message %q: %v", line, err)
		}
		if want := string(bytes.Repeat([]byte{'a' + byte(g%26)}, 200+g)); body != want {
			t.Fatalf("message %d/%d torn: %q", g, i, line)
		}
		if i != next[g] {
			t.Fatalf("writer %d: message %d arrived, expected %d", g, i, next[g])
		}
		next[g]++
	}
	wg.Wait()
}

// TestAsyncWriteLimit: with a peer that does not read, AsyncWrite reports
// ErrAsyncWriteLimit instead of queueing without bound.
func TestAsyncWriteLimit(t *testing.T) {
	const limit = 256 << 10
	p := newRecorder()
	_, addr := serve(t, p, loop.WithAsyncWriteLimit(limit), loop.WithSocketBuffers(32<<10, 32<<10),
		loop.WithWriteTimeout(200*time.Millisecond))
	c := dial(t, addr)
	c.SetReadBuffer(32 << 10)
	sc := <-p.opened
	msg := make([]byte, 8<<10)
	var err error
	for sent := 0; sent < 256<<20; sent += len(msg) {
		if err = sc.AsyncWrite(msg); err != nil {
			break
		}
	}
	if !errors.Is(err, loop.ErrAsyncWriteLimit) {
		t.Fatalf("AsyncWrite kept accepting (last error %v)", err)
	}
	var queued int
	onLoop(t, loop.Of(sc), func() { queued = sc.OutboundLen() })
	if queued > limit {
		t.Fatalf("%d bytes queued, over the %d limit", queued, limit)
	}
	// The peer never reads, so the close that flushes first ends with the
	// write timeout; then the connection refuses at once.
	onLoop(t, loop.Of(sc), func() { sc.Close() })
	if ev := p.waitClose(t, 5*time.Second); !errors.Is(ev.err, loop.ErrWriteTimeout) {
		t.Fatalf("OnClose(%v), want the write timeout", ev.err)
	}
	if err := sc.AsyncWrite(msg); !errors.Is(err, loop.ErrClosed) {
		t.Fatalf("AsyncWrite after close: %v", err)
	}
}
