package poller_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/poller"
)

// These tests run against raw socket pairs, below conn/, on whichever backend
// the build selected (go test -tags gnet runs them on gnet's poller).

// socketpair returns a connected pair of non-blocking stream sockets that the
// test closes at cleanup unless the poller closed them first.
func socketpair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	return fds[0], fds[1]
}

// recorder is a Handler that runs test code on the loop goroutine.
type recorder struct {
	ready func(fd int, ev poller.Event)
	woken func() bool
}

func (r *recorder) Ready(fd int, ev poller.Event) { r.ready(fd, ev) }
func (r *recorder) Woken() bool                   { return r.woken() }

// run starts p.Run on its own goroutine and returns a function that stops it
// and waits for Run to return.
func run(t *testing.T, p poller.Poller, h *recorder) (stop func()) {
	t.Helper()
	var stopping atomic.Bool
	inner := h.woken
	h.woken = func() bool {
		if stopping.Load() {
			return true
		}
		if inner != nil {
			return inner()
		}
		return false
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			stopping.Store(true)
			if err := p.Wake(); err != nil {
				t.Error(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after a stop")
			}
			if err := p.Release(); err != nil {
				t.Errorf("Release: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func newPoller(t *testing.T) poller.Poller {
	t.Helper()
	p, err := poller.New()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBackendName(t *testing.T) {
	switch poller.Backend {
	case "epoll", "kqueue", "gnet":
	default:
		t.Fatalf("Backend = %q", poller.Backend)
	}
}

func TestReadableAndWritable(t *testing.T) {
	tests := []struct {
		name     string
		interest poller.Interest
		write    bool // the peer writes a byte first
		want     poller.Event
	}{
		{name: "read after peer writes", interest: poller.Read, write: true, want: poller.Readable},
		{name: "write on an empty socket", interest: poller.Write, want: poller.Writable},
		{name: "both", interest: poller.ReadWrite, write: true, want: poller.Readable | poller.Writable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPoller(t)
			a, b := socketpair(t)
			defer unix.Close(b)
			if err := p.Add(a, tt.interest); err != nil {
				t.Fatal(err)
			}
			if tt.write {
				if _, err := unix.Write(b, []byte{'x'}); err != nil {
					t.Fatal(err)
				}
			}
			got := make(chan poller.Event, 16)
			run(t, p, &recorder{ready: func(fd int, ev poller.Event) {
				if fd != a {
					t.Errorf("event for fd %d, want %d", fd, a)
				}
				select {
				case got <- ev:
				default:
				}
			}})
			deadline := time.After(5 * time.Second)
			var seen poller.Event
			for seen&tt.want != tt.want {
				select {
				case ev := <-got:
					seen |= ev
				case <-deadline:
					t.Fatalf("saw %v, want %v", seen, tt.want)
				}
			}
		})
	}
}

// TestModifyNoneSilencesHangup checks that interest None reports nothing, not
// even the hang-up of a peer that closed: a paused connection must not spin.
func TestModifyNoneSilencesHangup(t *testing.T) {
	p := newPoller(t)
	a, b := socketpair(t)
	if err := p.Add(a, poller.Read); err != nil {
		t.Fatal(err)
	}
	if err := p.Modify(a, poller.None); err != nil {
		t.Fatal(err)
	}
	unix.Close(b) // hang-up on a
	var events atomic.Int64
	stop := run(t, p, &recorder{ready: func(int, poller.Event) { events.Add(1) }})
	time.Sleep(100 * time.Millisecond)
	stop()
	if n := events.Load(); n != 0 {
		t.Fatalf("%d events on an fd with interest None", n)
	}
	unix.Close(a)
}

// TestModifyRoundTrip moves one fd through every interest and back, checking
// what each reports.
func TestModifyRoundTrip(t *testing.T) {
	p := newPoller(t)
	a, b := socketpair(t)
	defer unix.Close(b)
	if _, err := unix.Write(b, []byte{'x'}); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(a, poller.None); err != nil {
		t.Fatal(err)
	}
	steps := []poller.Interest{poller.Read, poller.Write, poller.None, poller.ReadWrite, poller.Read}
	type result struct {
		step int
		ev   poller.Event
	}
	results := make(chan result, 64)
	step := atomic.Int64{}
	next := make(chan int, 1)
	run(t, p, &recorder{
		ready: func(fd int, ev poller.Event) {
			select {
			case results <- result{int(step.Load()), ev}:
			default:
			}
		},
		woken: func() bool {
			select {
			case i := <-next:
				step.Store(int64(i))
				if err := p.Modify(a, steps[i]); err != nil {
					t.Error(err)
				}
			default:
			}
			return false
		},
	})
	for i, in := range steps {
		next <- i
		if err := p.Wake(); err != nil {
			t.Fatal(err)
		}
		want := poller.Event(0)
		if in&poller.Read != 0 {
			want |= poller.Readable
		}
		if in&poller.Write != 0 {
			want |= poller.Writable
		}
		var seen poller.Event
		timeout := time.After(200 * time.Millisecond)
	collect:
		for {
			select {
			case r := <-results:
				if r.step == i {
					seen |= r.ev
				}
			case <-timeout:
				break collect
			}
		}
		if seen != want {
			t.Errorf("step %d (%v): saw %v, want %v", i, in, seen, want)
		}
	}
}

// TestStaleEventAfterReuse closes an fd inside a callback while its event is
// still waiting in the same pass, reuses the fd number for a new idle socket,
// and checks that the old event is not delivered to the new registration.
func TestStaleEventAfterReuse(t *testing.T) {
	for round := range 20 {
		p := newPoller(t)
		a1, b1 := socketpair(t)
		a2, b2 := socketpair(t)
		for _, fd := range []int{b1, b2} {
			if _, err := unix.Write(fd, []byte{'x'}); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Add(a1, poller.Read); err != nil {
			t.Fatal(err)
		}
		if err := p.Add(a2, poller.Read); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		reused, newPeer := -1, -1
		var stale []string
		first := true
		stop := run(t, p, &recorder{ready: func(fd int, ev poller.Event) {
			mu.Lock()
			defer mu.Unlock()
			if fd == reused {
				// The reused fd's socket is idle: nothing may be reported.
				stale = append(stale, ev.String())
				return
			}
			if !first {
				return
			}
			first = false
			victim := a2
			if fd == a2 {
				victim = a1
			}
			if err := p.Close(victim); err != nil {
				t.Error(err)
			}
			// The lowest free number is the one just closed.
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Error(err)
				return
			}
			unix.SetNonblock(fds[0], true)
			if fds[0] != victim {
				t.Logf("round %d: kernel gave fd %d, not the closed %d", round, fds[0], victim)
			}
			reused, newPeer = fds[0], fds[1]
			if err := p.Add(reused, poller.Read); err != nil {
				t.Error(err)
			}
			// Drain the fd that fired so it stops reporting.
			var buf [8]byte
			unix.Read(fd, buf[:])
		}})
		time.Sleep(50 * time.Millisecond)
		stop()
		mu.Lock()
		if len(stale) > 0 {
			t.Fatalf("round %d: idle reused fd %d got events %v", round, reused, stale)
		}
		if reused < 0 {
			t.Fatalf("round %d: no event was dispatched", round)
		}
		mu.Unlock()
		for _, fd := range []int{a1, a2, b1, b2, reused, newPeer} {
			unix.Close(fd)
		}
	}
}

// TestWakeCoalesces blocks Woken while 10,000 Wake calls are made from 50
// goroutines: together they must cost one more Woken run after the blocked
// one returns — at least one, since they came after it began, and at most
// one, since Woken runs once for any number of Wakes made since the
// previous Woken began.
func TestWakeCoalesces(t *testing.T) {
	p := newPoller(t)
	var woken atomic.Int64
	entered, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	run(t, p, &recorder{ready: func(int, poller.Event) {}, woken: func() bool {
		if woken.Add(1) == 1 {
			close(entered)
			<-release
		}
		return false
	}})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before the stop
	if err := p.Wake(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("Woken did not run after Wake")
	}
	const goroutines, each = 50, 200
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				if err := p.Wake(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	releaseOnce.Do(func() { close(release) })
	deadline := time.Now().Add(5 * time.Second)
	for woken.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("Woken did not run again after the Wakes made while it was blocked")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for any further run
	if n := woken.Load(); n != 2 {
		t.Fatalf("Woken ran %d times: once blocked, then %d times for %d Wake calls made meanwhile", n, n-1, goroutines*each)
	}
}

func TestRegistrationErrors(t *testing.T) {
	p := newPoller(t)
	t.Cleanup(func() { p.Release() })
	a, b := socketpair(t)
	defer unix.Close(b)
	if err := p.Add(-1, poller.Read); err == nil {
		t.Error("Add(-1) succeeded")
	}
	if err := p.Modify(a, poller.Read); err == nil {
		t.Error("Modify of an unregistered fd succeeded")
	}
	if err := p.Add(a, poller.Read); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(a, poller.Read); err == nil {
		t.Error("second Add succeeded")
	}
	if err := p.Close(a); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(a); err == nil {
		t.Error("second Close succeeded")
	}
}
