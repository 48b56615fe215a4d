package loop_test

import (
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
	"github.com/reactorkit/reactor/poller"
)

// staleRound is what one round of TestStaleEventAfterFDReuse saw. Loop
// goroutine while the round runs; the test reads it after a loop task.
type staleRound struct {
	conns    []*conn.Conn // the two connections opened for the round
	victimFD int          // the number of the one closed; 0 until then
	spied    *conn.Conn   // the connection that got victimFD's number
	peer     int          // the other end of spied's socketpair
	events   []poller.Event
	data     int // bytes spied's OnData saw
}

// TestStaleEventAfterFDReuse exercises the stale-event path end to end: two
// connections become readable in the same poller pass; the first one's
// OnData closes the other and, at once, makes a socketpair whose end gets the
// closed connection's fd number while that connection's "readable" event is
// still waiting in the pass. That end becomes a connection on the loop whose
// events a spy records. Nothing is ever written to it until the test checks,
// and it asks only to read: any event it gets before then is the closed
// connection's, delivered to the socket that reused its number.
//
// The native backends close at once, so the number is reused in most rounds
// (a round where another descriptor took it is skipped); the gnet backend
// defers close(2) until the pass's events are dispatched, so there the
// number must never be reused within the pass.
func TestStaleEventAfterFDReuse(t *testing.T) {
	const rounds = 20
	var (
		mu    sync.Mutex
		round *staleRound
	)
	spyProto := newRecorder()
	spyProto.onData = func(c *conn.Conn) {
		b, _ := c.Next(0)
		mu.Lock()
		round.data += len(b)
		mu.Unlock()
	}
	p := newRecorder()
	p.onOpen = func(c *conn.Conn) {
		mu.Lock()
		round.conns = append(round.conns, c)
		mu.Unlock()
	}
	p.onData = func(c *conn.Conn) {
		c.Discard(0)
		mu.Lock()
		r := round
		if r.victimFD != 0 || len(r.conns) < 2 {
			mu.Unlock()
			return
		}
		victim := r.conns[0]
		if victim == c {
			victim = r.conns[1]
		}
		r.victimFD = victim.Fd()
		mu.Unlock()
		victim.Close()
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Error(err)
			return
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			unix.SetNonblock(fd, true)
		}
		if fds[1] == r.victimFD {
			fds[0], fds[1] = fds[1], fds[0]
		}
		if fds[0] != r.victimFD {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return // another descriptor took the number
		}
		spied := loop.Of(c).OpenSpiedConn(fds[0], spyProto, func(ev poller.Event) {
			mu.Lock()
			r.events = append(r.events, ev)
			mu.Unlock()
		})
		mu.Lock()
		r.spied, r.peer = spied, fds[1]
		mu.Unlock()
	}
	s, addr := serve(t, p, loop.WithLoops(1))
	l := s.Loops()[0]
	reused := 0
	for i := range rounds {
		mu.Lock()
		round = &staleRound{}
		r := round
		mu.Unlock()
		a, b := dial(t, addr), dial(t, addr)
		waitFor(t, 5*time.Second, "both connections to open", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(r.conns) == 2
		})
		// Hold the loop while both peers write, so both are readable in one
		// pass.
		release := make(chan struct{})
		l.Submit(func() { <-release })
		a.Write([]byte("x"))
		b.Write([]byte("y"))
		time.Sleep(20 * time.Millisecond)
		close(release)
		waitFor(t, 5*time.Second, "a connection to be closed", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return r.victimFD != 0
		})
		onLoop(t, l, func() {}) // the pass with the stale event is over
		mu.Lock()
		spied, events := r.spied, r.events
		mu.Unlock()
		if spied == nil {
			if poller.Backend != "gnet" {
				t.Logf("round %d: fd %d was not reused", i, r.victimFD)
			}
		} else {
			reused++
			if len(events) > 0 {
				t.Fatalf("round %d: the socket that reused fd %d got %v, events of the connection closed in the same pass", i, r.victimFD, events)
			}
			// The spy does see the connection's own events.
			unix.Write(r.peer, []byte("z"))
			waitFor(t, 5*time.Second, "the reusing connection's own byte", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return r.data == 1 && len(r.events) > 0
			})
			onLoop(t, l, func() { spied.Close() })
			unix.Close(r.peer)
		}
		onLoop(t, l, func() {
			for _, c := range r.conns {
				c.Close()
			}
		})
		a.Close()
		b.Close()
	}
	t.Logf("%s: fd number reused in %d of %d rounds", poller.Backend, reused, rounds)
	if poller.Backend == "gnet" {
		if reused > 0 {
			t.Fatalf("gnet backend: a closed fd's number was reused within its pass %d times", reused)
		}
		return
	}
	if reused < rounds/2 {
		t.Fatalf("the closed fd's number was reused in only %d of %d rounds", reused, rounds)
	}
}
