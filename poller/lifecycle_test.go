package poller_test

import (
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/poller"
)

// These tests pin down behaviour the gnet backend has to make up for (a
// deferred close(2), a stop through a queued task, wake-ups during Woken,
// edge-triggered kqueue read filters). They hold on every backend.

// waitEOF waits until a read on the blocking-free socket fd returns EOF,
// which happens once every descriptor of its peer is closed.
func waitEOF(t *testing.T, fd int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var buf [64]byte
	for {
		n, err := unix.Read(fd, buf[:])
		if n == 0 && err == nil {
			return
		}
		if err != nil && err != unix.EAGAIN {
			t.Fatalf("read: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer not closed after %v", d)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCloseInReadyClosesWithoutWake closes an fd from a Ready callback and
// checks that the socket really gets closed with no further Wake: a backend
// that defers close(2) must wake itself to do it.
func TestCloseInReadyClosesWithoutWake(t *testing.T) {
	p := newPoller(t)
	a, b := socketpair(t)
	defer unix.Close(b)
	if err := p.Add(a, poller.Write); err != nil {
		t.Fatal(err)
	}
	var closed atomic.Bool
	run(t, p, &recorder{ready: func(fd int, ev poller.Event) {
		if fd != a || closed.Load() {
			t.Errorf("event %v for fd %d after it was closed", ev, fd)
			return
		}
		closed.Store(true)
		if err := p.Close(a); err != nil {
			t.Error(err)
		}
	}})
	waitEOF(t, b, 5*time.Second)
}

// TestReleaseClosesClosedFDs closes an fd without ever running the poller:
// Release must leave it closed.
func TestReleaseClosesClosedFDs(t *testing.T) {
	p := newPoller(t)
	a, b := socketpair(t)
	defer unix.Close(b)
	if err := p.Add(a, poller.Read); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(a); err != nil {
		t.Fatal(err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	waitEOF(t, b, time.Second)
}

// TestStopFromReady wakes the poller from a Ready callback, on the loop
// goroutine, and stops it from the Woken that follows.
func TestStopFromReady(t *testing.T) {
	p := newPoller(t)
	a, b := socketpair(t)
	defer unix.Close(a)
	defer unix.Close(b)
	if err := p.Add(a, poller.Write); err != nil {
		t.Fatal(err)
	}
	var woke atomic.Bool
	h := &recorder{
		ready: func(int, poller.Event) {
			if err := p.Wake(); err != nil {
				t.Error(err)
			}
		},
		woken: func() bool {
			woke.Store(true)
			return true
		},
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(h) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Woken asked to stop")
	}
	if !woke.Load() {
		t.Fatal("Run returned without calling Woken")
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestWakeInWokenLetsIOIn makes every Woken call Wake again, as a task that
// keeps resubmitting itself would, and checks that readiness is still
// dispatched in between: Woken runs at most once per pass.
func TestWakeInWokenLetsIOIn(t *testing.T) {
	p := newPoller(t)
	a, b := socketpair(t)
	defer unix.Close(b)
	if _, err := unix.Write(b, []byte{'x'}); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(a, poller.Read); err != nil {
		t.Fatal(err)
	}
	var ready, woken atomic.Int64
	run(t, p, &recorder{
		ready: func(int, poller.Event) { ready.Add(1) }, // never reads: stays readable
		woken: func() bool {
			woken.Add(1)
			if err := p.Wake(); err != nil {
				t.Error(err)
			}
			return false
		},
	})
	if err := p.Wake(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "readiness between wake-ups", func() bool { return ready.Load() > 10 && woken.Load() > 10 })
	t.Logf("%d Ready, %d Woken", ready.Load(), woken.Load())
}

// TestNoneIgnoresNewBytes pauses an fd, has the peer write while it is
// paused, and checks that nothing is reported until read interest returns,
// and that the bytes that came in meanwhile are reported then.
func TestNoneIgnoresNewBytes(t *testing.T) {
	p := newPoller(t)
	a, b := socketpair(t)
	defer unix.Close(b)
	if err := p.Add(a, poller.Read); err != nil {
		t.Fatal(err)
	}
	if err := p.Modify(a, poller.None); err != nil {
		t.Fatal(err)
	}
	var events atomic.Int64
	resume := make(chan struct{}, 1)
	run(t, p, &recorder{
		ready: func(fd int, ev poller.Event) {
			if ev&poller.Readable != 0 {
				events.Add(1)
			}
		},
		woken: func() bool {
			select {
			case <-resume:
				if err := p.Modify(a, poller.Read); err != nil {
					t.Error(err)
				}
			default:
			}
			return false
		},
	})
	for range 5 {
		if _, err := unix.Write(b, []byte{'x'}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := events.Load(); n != 0 {
		t.Fatalf("%d events while the interest was None", n)
	}
	resume <- struct{}{}
	if err := p.Wake(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the bytes that came while paused", func() bool { return events.Load() > 0 })
}

// TestLevelTriggered reads one byte per event from a socket holding three
// and checks every byte is reported: readiness stays while bytes remain.
func TestLevelTriggered(t *testing.T) {
	p := newPoller(t)
	a, b := socketpair(t)
	defer unix.Close(b)
	if _, err := unix.Write(b, []byte("xyz")); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(a, poller.Read); err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	run(t, p, &recorder{ready: func(fd int, ev poller.Event) {
		var buf [1]byte
		if n, _ := unix.Read(fd, buf[:]); n == 1 {
			got.Add(1)
		}
	}})
	waitUntil(t, "all three bytes", func() bool { return got.Load() == 3 })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
