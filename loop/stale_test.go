package loop_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

// TestStaleEventAfterFDReuse exercises the stale-event path end to end: two
// connections become readable in the same poller pass; the first one's
// OnData closes the other and starts a dial, whose new socket gets the
// closed connection's fd number while that connection's event is still
// waiting in the pass. The dial goes to a listener whose backlog is full, so
// it can only end by its connect timeout; if the stale "readable" event were
// delivered to it, it would take the socket for connected and run OnOpen.
func TestStaleEventAfterFDReuse(t *testing.T) {
	stalled := fullBacklog(t)
	var (
		mu       sync.Mutex
		conns    []*conn.Conn
		reused   int
		victimFD int
	)
	dialDone := make(chan error, 1)
	dialProto := newRecorder()
	p := newRecorder()
	p.onOpen = func(c *conn.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	p.onData = func(c *conn.Conn) {
		c.Discard(0)
		mu.Lock()
		defer mu.Unlock()
		if victimFD != 0 || len(conns) < 2 {
			return
		}
		victim := conns[0]
		if victim == c {
			victim = conns[1]
		}
		victimFD = victim.Fd()
		victim.Close()
		loop.Of(c).Dial(context.Background(), "tcp", stalled, dialProto, func(dc *conn.Conn, err error) {
			dialDone <- err
		}, loop.WithConnectTimeout(300*time.Millisecond))
		// The dial's socket took the lowest free number: the victim's.
		reused = lowestFreeFD(t)
	}
	s, addr := serve(t, p, loop.WithLoops(1))
	a, b := dial(t, addr), dial(t, addr)
	waitFor(t, 5*time.Second, "both connections to open", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(conns) == 2
	})
	// Hold the loop while both peers write, so both are readable in one pass.
	release := make(chan struct{})
	s.Loops()[0].Submit(func() { <-release })
	a.Write([]byte("x"))
	b.Write([]byte("y"))
	time.Sleep(50 * time.Millisecond)
	close(release)

	select {
	case err := <-dialDone:
		if !errors.Is(err, loop.ErrConnectTimeout) {
			t.Fatalf("dial ended with %v, want the connect timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("dial did not end")
	}
	select {
	case <-dialProto.opened:
		t.Fatal("a stale event made the stalled dial look connected")
	default:
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("closed fd %d; lowest free fd after the dial started: %d", victimFD, reused)
}
