package loop_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/internal/sock"
	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/loop"
)

// TestAbort drops what is queued and resets the connection.
func TestAbort(t *testing.T) {
	boom := errors.New("transfer aborted")
	p := newRecorder()
	p.onOpen = func(c *conn.Conn) {
		c.Write(make([]byte, 32<<20)) // far more than the socket takes
		c.Abort(boom)
		if c.OutboundLen() != 0 {
			t.Errorf("%d bytes still queued after Abort", c.OutboundLen())
		}
	}
	_, addr := serve(t, p, loop.WithSocketBuffers(64<<10, 64<<10))
	c := dial(t, addr)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after %d bytes: %v, want a reset", n, err)
	}
	if ev := p.waitClose(t, time.Second); ev.err != boom {
		t.Fatalf("OnClose(%v)", ev.err)
	}
}

// TestSetBusyHoldsDrain: a connection marked busy is not closed by a
// graceful shutdown until it is marked idle again.
func TestSetBusyHoldsDrain(t *testing.T) {
	p := newRecorder()
	var sc *conn.Conn
	p.onOpen = func(c *conn.Conn) { sc = c; c.SetBusy(true) }
	s, addr := serveUnmanaged(t, p, loop.WithLoops(1))
	c := dial(t, addr)
	<-p.opened
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case ev := <-p.closed:
		t.Fatalf("busy connection closed by the drain: %v", ev.err)
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a busy connection", err)
	default:
	}
	l := loop.Of(sc)
	l.Submit(func() {
		sc.Write([]byte("done"))
		sc.SetBusy(false)
	})
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	got, _ := io.ReadAll(c)
	if string(got) != "done" {
		t.Fatalf("client read %q", got)
	}
}

// TestCloseListenerInOnOpen: a listener closed by the first connection's
// OnOpen accepts no more, and the loop does not accept on the closed fd.
func TestCloseListenerInOnOpen(t *testing.T) {
	var logs testtool.SyncBuffer
	s := newServer(t, loop.WithLoops(1), loop.WithLogger(slogTo(&logs)))
	opened := make(chan *conn.Conn, 10)
	ready := make(chan *loop.Listener, 1)
	onLoop(t, s.Loops()[0], func() {
		var ln *loop.Listener
		p := newRecorder()
		p.onOpen = func(c *conn.Conn) { ln.Close(); opened <- c }
		var err error
		ln, err = s.Loops()[0].Listen("tcp", "127.0.0.1:0", p)
		if err != nil {
			t.Error(err)
		}
		ready <- ln
	})
	ln := <-ready
	// Hold the loop so several connections are waiting in one accept batch.
	release := make(chan struct{})
	s.Loops()[0].Submit(func() { <-release })
	for range 3 {
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
			defer c.Close()
		}
	}
	close(release)
	time.Sleep(200 * time.Millisecond)
	if n := len(opened); n != 1 {
		t.Fatalf("%d connections opened; the listener closed after the first", n)
	}
	if logs.String() != "" {
		t.Fatalf("unexpected log: %s", logs.String())
	}
}

// TestSendFileOverTLS is refused with a clear error: TLS must encrypt.
func TestSendFileOverTLS(t *testing.T) {
	cert := testCert(t)
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("data"), 0o600)
	res := make(chan error, 1)
	p := newRecorder()
	p.onOpen = func(c *conn.Conn) {
		f, _ := os.Open(path)
		res <- c.SendFile(f, 0, -1)
	}
	_, addr := serve(t, p, loop.WithTLS(cert.ServerConfig()))
	tlsDial(t, addr, cert.ClientConfig())
	if err := <-res; !errors.Is(err, conn.ErrSendFileTLS) {
		t.Fatalf("SendFile over TLS: %v", err)
	}
}

// TestDialLocalAddr binds a dial to a chosen local address.
func TestDialLocalAddr(t *testing.T) {
	p := newRecorder()
	_, addr := serve(t, p)
	s := newServer(t)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	c, err := s.Dial(context.Background(), "tcp", addr, loop.BaseProtocol{}, loop.WithLocalAddr(local))
	if err != nil {
		t.Fatal(err)
	}
	_ = c
	peer := <-p.opened
	var got net.Addr
	onLoop(t, loop.Of(peer), func() { got = peer.RemoteAddr() })
	if !got.(*net.TCPAddr).IP.Equal(local.IP) {
		t.Fatalf("peer address %v, want %v", got, local.IP)
	}
}

// TestAcceptedSocketOptions checks the listener's socket options reach every
// accepted connection (set on the listener where accepted sockets inherit
// them, on each connection elsewhere).
func TestAcceptedSocketOptions(t *testing.T) {
	tests := []struct {
		name      string
		opts      []loop.Option
		noDelay   int
		keepAlive int
		keepIdle  int // seconds; 0: not checked
	}{
		{name: "defaults", noDelay: 1, keepAlive: 1, keepIdle: 15},
		{name: "tuned", opts: []loop.Option{loop.WithNoDelay(false), loop.WithKeepAlive(42 * time.Second)}, noDelay: 0, keepAlive: 1, keepIdle: 42},
		{name: "keep-alive off", opts: []loop.Option{loop.WithKeepAlive(0)}, noDelay: 1, keepAlive: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan [3]int, 1)
			p := newRecorder()
			p.onOpen = func(c *conn.Conn) {
				var v [3]int
				c.Control(func(fd uintptr) {
					v[0], _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY)
					v[1], _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
					if sock.TCPKeepIdle >= 0 {
						v[2], _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, sock.TCPKeepIdle)
					}
				})
				got <- v
			}
			_, addr := serve(t, p, tt.opts...)
			dial(t, addr)
			v := <-got
			if v[0] != tt.noDelay || v[1] != tt.keepAlive || (tt.keepIdle != 0 && sock.TCPKeepIdle >= 0 && v[2] != tt.keepIdle) {
				t.Fatalf("nodelay %d keepalive %d idle %d; want %d %d %d", v[0], v[1], v[2], tt.noDelay, tt.keepAlive, tt.keepIdle)
			}
		})
	}
}
