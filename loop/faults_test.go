package loop_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/internal/sock"
	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/loop"
)

// TestFaultENFILE injects ENFILE ("system-wide file table full") into accept:
// the server keeps serving its open connections, does not spin while the
// error lasts, and accepts the waiting connection once it clears.
func TestFaultENFILE(t *testing.T) {
	var failing atomic.Bool
	var calls atomic.Int64
	accept := func(fd int) (int, unix.Sockaddr, error) {
		calls.Add(1)
		if failing.Load() {
			return -1, nil, unix.ENFILE
		}
		return sock.Accept(fd)
	}
	_, addr := serve(t, echoProto{}, loop.WithLoops(1), loop.WithAcceptFunc(accept))
	open := dial(t, addr)
	if !pingOK(open, 5*time.Second) {
		t.Fatal("first connection not served")
	}
	failing.Store(true)
	waiting := dial(t, addr)
	waiting.Write([]byte{'x'})
	time.Sleep(100 * time.Millisecond)
	before, callsBefore := processCPU(t), calls.Load()
	time.Sleep(time.Second)
	for range 10 {
		if !pingOK(open, 2*time.Second) {
			t.Fatal("open connection not served while accept fails")
		}
	}
	if spent := processCPU(t) - before; spent > 100*time.Millisecond {
		t.Errorf("process used %v of CPU in a second of ENFILE: accept spins", spent)
	}
	// Backing off, the listener retries a few times a second, not thousands.
	if n := calls.Load() - callsBefore; n > 50 {
		t.Errorf("accept was retried %d times in a second", n)
	}
	failing.Store(false)
	waiting.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	if _, err := io.ReadFull(waiting, b[:]); err != nil {
		t.Fatalf("waiting connection not served after ENFILE cleared: %v", err)
	}
}

// TestSlowPeers runs three kinds of misbehaving peers at once — slowloris
// (a byte at a time, never a whole frame), a peer that never reads, and one
// that half-closes and vanishes — next to well-behaved ones. Each bad peer is
// closed by its own timeout; the good ones are served throughout; memory
// stays bounded.
func TestSlowPeers(t *testing.T) {
	const d = 300 * time.Millisecond
	p := lineProto()
	var mu sync.Mutex
	closed := map[error]int{}
	p.onOpen = func(c *conn.Conn) {
		c.SetContext(nil)
	}
	p.onData = func(c *conn.Conn) {
		b, _ := c.Peek(0)
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			line, _ := c.Next(i + 1)
			switch {
			case bytes.HasPrefix(line, []byte("flood")):
				c.Write(make([]byte, 2<<20)) // for the peer that never reads: far more than the socket buffers hold
			default:
				c.Write(line)
			}
		}
	}
	_, addr := serve(t, p, loop.WithReadTimeout(d), loop.WithWriteTimeout(d), loop.WithHalfCloseTimeout(d),
		loop.WithSocketBuffers(32<<10, 32<<10))
	const each = 10
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// Good peers echo a line every 20 ms and must never fail.
	var goodErr atomic.Value
	for range each {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				goodErr.Store(err)
				return
			}
			defer c.Close()
			buf := make([]byte, 6)
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write([]byte("hello\n")); err != nil {
					goodErr.Store(err)
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello\n" {
					goodErr.Store(fmt.Errorf("good peer read %q: %v", buf, err))
					return
				}
			}
		})
	}
	var slowLived []<-chan time.Duration
	for range each {
		// A byte every d/5 until the server closes the connection.
		slowLived = append(slowLived, trickle(dial(t, addr), d/5))
		deaf := dial(t, addr)
		deaf.SetReadBuffer(16 << 10)
		deaf.Write([]byte("flood\n"))
		gone := dial(t, addr)
		gone.CloseWrite()
	}
	// The read timeout counts from the first byte of the incomplete line;
	// the bytes trickling in after it must not restart it. If they did, the
	// slowloris would never be closed.
	slowDeadline := time.After(10 * d)
	for i, lived := range slowLived {
		select {
		case took := <-lived:
			if took < d || took > 3*d {
				t.Errorf("slowloris %d closed %v after its first byte; the read timeout is %v", i, took, d)
			}
		case <-slowDeadline:
			t.Fatalf("slowloris %d still open %v after it started: its bytes keep restarting the read timeout", i, 10*d)
		}
	}
	deadline := time.After(10 * time.Second)
	for range 3 * each {
		select {
		case ev := <-p.closed:
			mu.Lock()
			closed[ev.err]++
			mu.Unlock()
		case <-deadline:
			t.Fatalf("bad peers not all closed: %v", closed)
		}
	}
	close(stop)
	wg.Wait()
	if err := goodErr.Load(); err != nil {
		t.Fatalf("a good peer failed: %v", err)
	}
	for _, want := range []error{loop.ErrReadTimeout, loop.ErrWriteTimeout, loop.ErrHalfCloseTimeout} {
		if closed[want] != each {
			t.Errorf("%v closed %d peers, want %d (all: %v)", want, closed[want], each, closed)
		}
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > 256<<20 {
		t.Errorf("heap in use %d MiB after slow peers", ms.HeapInuse>>20)
	}
}

// TestChurn opens and closes 10,000 connections (a tenth of them with a
// reset), and checks no descriptor, goroutine or timer is left behind.
func TestChurn(t *testing.T) {
	cycles := 10000
	if raceEnabled || testing.Short() {
		cycles = 2000
	}
	s, addr := serve(t, echoProto{}, loop.WithIdleTimeout(time.Minute), loop.WithReadTimeout(time.Minute))
	fdsBefore := openFDs(t)
	goroutinesBefore := runtime.NumGoroutine()
	var wg sync.WaitGroup
	var failures atomic.Int64
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			for i := w; i < cycles; i += workers {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					failures.Add(1)
					continue
				}
				tc := c.(*net.TCPConn)
				if i%10 == 0 {
					tc.Write([]byte("x")) // some traffic, then a reset
					tc.SetLinger(0)
				} else {
					c.SetDeadline(time.Now().Add(5 * time.Second))
					if !pingOK(c, 5*time.Second) {
						failures.Add(1)
					}
				}
				c.Close()
			}
		})
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d cycles failed", n, cycles)
	}
	waitFor(t, 10*time.Second, "every connection to close", func() bool {
		st := s.Stats()
		return st.Total.Open == 0 && st.Total.Closed == st.Total.Accepted
	})
	for _, l := range s.Loops() {
		onLoop(t, l, func() {}) // let each loop publish its timer count
	}
	st := s.Stats()
	if st.Total.Accepted != uint64(cycles) {
		t.Errorf("accepted %d connections, want %d", st.Total.Accepted, cycles)
	}
	if st.Total.Timers != 0 {
		t.Errorf("%d timers still armed after every connection closed", st.Total.Timers)
	}
	if st.Total.Queued != 0 {
		t.Errorf("%d bytes still counted as queued", st.Total.Queued)
	}
	waitFor(t, 5*time.Second, "descriptors back to their count", func() bool {
		return openFDs(t) <= fdsBefore
	})
	if g := runtime.NumGoroutine(); g > goroutinesBefore {
		t.Errorf("%d goroutines, %d before the server", g, goroutinesBefore)
	}
}

// sleepy blocks its loop in OnData, which a protocol must never do.
type sleepy struct{ loop.BaseProtocol }

func (sleepy) OnData(c *conn.Conn) {
	c.Discard(0)
	time.Sleep(300 * time.Millisecond)
	c.Write([]byte("late"))
}

// TestStallDetection: a callback that blocks its loop past the threshold is
// logged with the protocol and how long it took, and a watchdog reports it
// while it is still blocked; Stats counts it.
func TestStallDetection(t *testing.T) {
	var logs testtool.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	s, addr := serve(t, sleepy{}, loop.WithLoops(1), loop.WithStallThreshold(100*time.Millisecond), loop.WithLogger(logger))
	c := dial(t, addr)
	c.Write([]byte("go"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	// The answer leaves inside OnData; the stall is logged once it returns.
	wants := []string{"blocked its event loop", "loop_test.sleepy", "took=", "still running"}
	deadline := time.Now().Add(5 * time.Second)
	for _, want := range wants {
		for !strings.Contains(logs.String(), want) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	st := s.Stats()
	// The watchdog reports a stall once it has seen the unit run for a
	// threshold, so the stall's recorded time is at least that long. It
	// counts from the watchdog's first sight, which a loaded machine can
	// delay by more than the half-threshold tick: no tighter lower bound
	// holds.
	if st.Total.Stalls != 1 || st.Total.LongestCallback < 100*time.Millisecond {
		t.Errorf("Stats: %d stalls, longest %v", st.Total.Stalls, st.Total.LongestCallback)
	}
	if st.Total.BytesIn != 2 || st.Total.BytesOut != 4 {
		t.Errorf("Stats: %d bytes in, %d out; want 2 and 4", st.Total.BytesIn, st.Total.BytesOut)
	}
}

// TestFaultShutdownUnderLoad shuts the server down while 50 clients send
// requests as fast as they can: every request the server read gets its full
// answer (the clients receive, in whole answers, exactly as many as OnData
// consumed requests), and new connections are refused.
func TestFaultShutdownUnderLoad(t *testing.T) {
	answer := bytes.Repeat([]byte("A"), 64<<10)
	var requests atomic.Int64 // consumed by OnData
	p := newRecorder()
	p.onData = func(c *conn.Conn) {
		for {
			b, _ := c.Peek(0)
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				break
			}
			c.Discard(i + 1)
			requests.Add(1)
			c.Write(answer)
		}
		if c.PeerClosed() {
			c.Close()
		}
	}
	s, addr := serveUnmanaged(t, p, loop.WithLoops(2))
	var wg sync.WaitGroup
	var answers atomic.Int64
	for i := range 50 {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			go func() {
				for {
					if _, err := c.Write([]byte("req\n")); err != nil {
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			got, err := io.ReadAll(c)
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("client %d: %v", i, err)
				return
			}
			if len(got)%len(answer) != 0 {
				t.Errorf("client %d: %d bytes, not a whole number of answers", i, len(got))
			}
			answers.Add(int64(len(got) / len(answer)))
		})
	}
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wg.Wait()
	if answers.Load() == 0 {
		t.Fatal("no answers at all")
	}
	if r, a := requests.Load(), answers.Load(); r != a {
		t.Fatalf("the server read %d requests; the clients received %d whole answers", r, a)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("a new connection was accepted after Shutdown")
	}
}
