package loop_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reactorkit/reactor/conn"
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

// TestWakeConcurrent calls Wake 100 times from each of 100 goroutines at
// once: under -race this must be clean; OnData runs only on the loop
// goroutine, at least once after the last Wake began, and far fewer times
// than Wake was called, since calls made before an OnData runs coalesce.
func TestWakeConcurrent(t *testing.T) {
	const goroutines, each = 100, 100
	var (
		loopG    atomic.Uint64
		calls    atomic.Int64 // Wake calls begun
		runs     atomic.Int64 // OnData runs
		lastSeen atomic.Int64 // calls begun when the latest OnData started
	)
	p := newRecorder()
	p.onOpen = func(*conn.Conn) { loopG.Store(goroutineID()) }
	p.onData = func(c *conn.Conn) {
		lastSeen.Store(calls.Load())
		runs.Add(1)
		if g := goroutineID(); g != loopG.Load() {
			t.Errorf("OnData ran on goroutine %d, the loop is %d", g, loopG.Load())
		}
		c.Discard(0)
		time.Sleep(time.Millisecond) // so that Wakes also come while OnData runs
	}
	_, addr := serve(t, p)
	dial(t, addr)
	sc := <-p.opened
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				calls.Add(1)
				if err := sc.Wake(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, 5*time.Second, "an OnData after the last Wake", func() bool { return lastSeen.Load() == goroutines*each })
	time.Sleep(50 * time.Millisecond) // any OnData still owed
	n := runs.Load()
	t.Logf("%d Wake calls, %d OnData runs", goroutines*each, n)
	if n > goroutines*each/10 {
		t.Fatalf("OnData ran %d times for %d Wake calls: they did not coalesce", n, goroutines*each)
	}
}

// TestAsyncWriteLimitConcurrent: 100 goroutines AsyncWrite at once to a peer
// that does not read. Some get ErrAsyncWriteLimit, and the bytes queued on
// the connection never exceed the limit, which counts accepted bytes not yet
// queued as well as queued ones; every accepted byte is sent or queued.
func TestAsyncWriteLimitConcurrent(t *testing.T) {
	const limit, writers = 64 << 10, 100
	p := newRecorder()
	s, addr := serve(t, p, loop.WithLoops(1), loop.WithAsyncWriteLimit(limit), loop.WithSocketBuffers(32<<10, 32<<10))
	c := dial(t, addr)
	c.SetReadBuffer(32 << 10)
	sc := <-p.opened

	// The connection is alone on its loop: the loop's queued bytes are its.
	var maxQueued atomic.Int64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if q := s.Stats().Total.Queued; q > maxQueued.Load() {
				maxQueued.Store(q)
			}
			runtime.Gosched()
		}
	}()
	var accepted, limited atomic.Int64
	msg := make([]byte, 1<<10)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			// Refused 20 times, a millisecond apart: long enough for the
			// loop to queue what was accepted, and the queue to fill.
			for refused := 0; refused < 20; {
				err := sc.AsyncWrite(msg)
				switch {
				case errors.Is(err, loop.ErrAsyncWriteLimit):
					limited.Add(1)
					refused++
					time.Sleep(time.Millisecond)
				case err != nil:
					t.Error(err)
					return
				default:
					accepted.Add(int64(len(msg)))
				}
			}
		})
	}
	wg.Wait()
	var queued int
	var sent uint64
	onLoop(t, loop.Of(sc), func() { // after every accepted write's task
		queued = sc.OutboundLen()
		sent = s.Stats().Total.BytesOut
	})
	close(stop)
	<-sampled
	t.Logf("%d writes refused; %d bytes accepted, at most %d queued", limited.Load(), accepted.Load(), maxQueued.Load())
	if limited.Load() == 0 {
		t.Fatal("no write got ErrAsyncWriteLimit")
	}
	if q := max(maxQueued.Load(), int64(queued)); q > limit {
		t.Fatalf("%d bytes queued, over the %d limit", q, limit)
	}
	if got := int64(sent) + int64(queued); got != accepted.Load() {
		t.Fatalf("%d bytes sent and %d queued, but %d accepted", sent, queued, accepted.Load())
	}
	c.Close() // unread bytes: a reset, which closes the server's side
	p.waitClose(t, 5*time.Second)
}
