package loop_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/loop"
)

// processCPU returns the CPU time (user + system) this process has used.
func processCPU(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestSlowReader: the peer stops reading; the server's outbound queue
// reaches the high watermark and the server stops reading from that peer,
// so the queue stays bounded and the loop does not spin; when the peer reads
// again, OnWritable fires and every byte arrives.
func TestSlowReader(t *testing.T) {
	const high, low = 256 << 10, 64 << 10
	var maxQueued atomic.Int64
	p := queueEcho(&maxQueued)
	_, addr := serve(t, p, loop.WithWriteWatermarks(high, low), loop.WithSocketBuffers(64<<10, 64<<10))
	c := dial(t, addr)
	c.SetReadBuffer(64 << 10)

	data := testtool.Pattern(32<<20, 1)
	sent := sendAndCloseWrite(c, data)

	// The writer blocks once the server stops reading: wait for the queue to
	// pass the high watermark, then hold still for a second.
	waitFor(t, 10*time.Second, "the high watermark", func() bool { return maxQueued.Load() > high })
	time.Sleep(100 * time.Millisecond)
	before := processCPU(t)
	time.Sleep(time.Second)
	if spent := processCPU(t) - before; spent > 100*time.Millisecond {
		t.Errorf("process used %v of CPU in one second with a paused connection: the loop spins", spent)
	}
	// One read's worth can land on top of the watermark before reading stops.
	if q := maxQueued.Load(); q > high+loop.DefaultReadBufferSize {
		t.Errorf("outbound queue reached %d bytes; high watermark %d should bound it", q, high)
	}
	select {
	case err := <-sent:
		t.Fatalf("the writer finished (%v) although the server should have stopped reading", err)
	default:
	}

	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes back, want %d, equal=%v", len(got), len(data), bytes.Equal(got, data))
	}
	select {
	case <-p.writable:
	default:
		t.Fatal("OnWritable never ran")
	}
}

// TestPausedPeerHangupDoesNotSpin pauses reading, lets the peer close, and
// checks the loop does not spin on the hang-up it cannot read.
func TestPausedPeerHangupDoesNotSpin(t *testing.T) {
	p := newRecorder()
	p.onOpen = func(c *conn.Conn) { c.PauseRead() }
	s, addr := serve(t, p)
	c := dial(t, addr)
	sc := <-p.opened
	c.Write([]byte("unread"))
	c.Close()
	time.Sleep(100 * time.Millisecond)
	before := processCPU(t)
	time.Sleep(time.Second)
	if spent := processCPU(t) - before; spent > 100*time.Millisecond {
		t.Fatalf("process used %v of CPU in one second with a paused, hung-up connection", spent)
	}
	// Resuming delivers the data, then the EOF, and the protocol can close.
	p.onData = func(c *conn.Conn) {
		c.Discard(0)
		if c.PeerClosed() {
			c.Close()
		}
	}
	onLoop(t, loop.Of(sc), sc.ResumeRead)
	if ev := p.waitClose(t, 5*time.Second); ev.err != nil && !errors.Is(ev.err, syscall.ECONNRESET) {
		t.Fatalf("OnClose(%v)", ev.err)
	}
	_ = s
}

// TestInboundLimit: a peer that sends more than the inbound maximum without
// the protocol consuming it is closed with ErrInboundLimit; other connections
// of the server are unaffected.
func TestInboundLimit(t *testing.T) {
	hoard := newRecorder()
	hoard.onData = func(c *conn.Conn) {} // never consumes
	s := newServer(t)
	hl, err := s.Listen("tcp", "127.0.0.1:0", hoard, loop.WithMaxInbound(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	el, err := s.Listen("tcp", "127.0.0.1:0", echoProto{})
	if err != nil {
		t.Fatal(err)
	}
	other := dial(t, el.Addr().String())

	c := dial(t, hl.Addr().String())
	go c.Write(make([]byte, 1<<20))
	ev := hoard.waitClose(t, 5*time.Second)
	if !errors.Is(ev.err, loop.ErrInboundLimit) {
		t.Fatalf("OnClose(%v), want ErrInboundLimit", ev.err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after exceeding the limit")
	}
	if err := echoCheck(other, []byte("still served"), func() int { return 5 }); err != nil {
		t.Fatal(err)
	}
}

// TestResetMidWrite: the peer resets the connection while the server is
// writing a stream; OnClose gets the error, and no descriptor or goroutine
// is left behind.
func TestResetMidWrite(t *testing.T) {
	fdsBefore := openFDs(t)
	func() {
		chunk := testtool.Pattern(64<<10, 2)
		p := newRecorder()
		p.onOpen = func(c *conn.Conn) {
			for !c.Closed() && c.OutboundLen() == 0 {
				c.Write(chunk)
			}
		}
		p.onWritable = func(c *conn.Conn) {
			for !c.Closed() && c.OutboundLen() < 512<<10 {
				c.Write(chunk)
			}
		}
		s, err := loop.NewServer(loop.WithLoops(2), loop.WithWriteWatermarks(256<<10, 64<<10))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ln, err := s.Listen("tcp", "127.0.0.1:0", p)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			io.ReadFull(c, make([]byte, 100<<10))
			c.(*net.TCPConn).SetLinger(0) // close sends RST
			c.Close()
			ev := p.waitClose(t, 5*time.Second)
			if ev.err == nil {
				t.Fatal("OnClose(nil) after a reset")
			}
			if !errors.Is(ev.err, syscall.ECONNRESET) && !errors.Is(ev.err, syscall.EPIPE) {
				t.Fatalf("OnClose(%v), want ECONNRESET or EPIPE", ev.err)
			}
		}
	}()
	waitFor(t, 5*time.Second, "descriptors to return to their count", func() bool { return openFDs(t) <= fdsBefore })
}
