package loop_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

// fullBacklog returns the address of a loopback listener that never accepts
// and whose backlog is full, so a further connect stalls (Linux drops SYNs
// for a listener whose accept queue is full): a connect timeout produced
// without leaving loopback.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0) // SOCK_CLOEXEC is Linux's
	if err != nil {
		t.Fatal(err)
	}
	unix.CloseOnExec(fd)
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*unix.SockaddrInet4).Port))
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr // this one stalled: the backlog is full
		}
		t.Cleanup(func() { c.Close() })
		if i == 16 {
			t.Skip("the kernel keeps completing connections to a full backlog")
		}
	}
}

func TestDial(t *testing.T) {
	_, echoAddr := serve(t, echoProto{})
	_, port, _ := net.SplitHostPort(echoAddr)

	// A port that was just free: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name    string
		address string
		opts    []loop.Option
		ctx     func() (context.Context, context.CancelFunc)
		want    []error // errors.Is targets; nil: must connect
	}{
		{name: "success", address: echoAddr},
		{name: "by name", address: net.JoinHostPort("localhost", port)},
		{name: "refused", address: closedAddr, want: []error{syscall.ECONNREFUSED}},
		{name: "connect timeout", address: fullBacklog(t), opts: []loop.Option{loop.WithConnectTimeout(150 * time.Millisecond)},
			want: []error{loop.ErrConnectTimeout, os.ErrDeadlineExceeded}},
		{name: "context deadline", address: fullBacklog(t), ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 150*time.Millisecond)
		}, want: []error{context.DeadlineExceeded}},
		{name: "unknown network", address: echoAddr, want: []error{net.UnknownNetworkError("")}},
	}
	s := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			network := "tcp"
			if tt.name == "unknown network" {
				network = "sctp"
			}
			p := newRecorder()
			got := make(chan string, 1)
			p.onOpen = func(c *conn.Conn) { c.Write([]byte("ping")) }
			p.onData = func(c *conn.Conn) {
				if c.InboundLen() >= 4 {
					b, _ := c.Next(4)
					got <- string(b)
					c.Close()
				}
			}
			start := time.Now()
			c, err := s.Dial(ctx, network, tt.address, p, tt.opts...)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				select {
				case g := <-got:
					if g != "ping" {
						t.Fatalf("echo %q", g)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no echo over the dialed connection")
				}
				if c == nil {
					t.Fatal("nil connection without an error")
				}
				return
			}
			if err == nil {
				t.Fatal("dial succeeded")
			}
			for _, w := range tt.want {
				var une net.UnknownNetworkError
				if errors.As(w, &une) {
					if !errors.As(err, &une) {
						t.Fatalf("%v is not an UnknownNetworkError", err)
					}
					continue
				}
				if !errors.Is(err, w) {
					t.Fatalf("error %v does not match %v", err, w)
				}
			}
			if tt.opts != nil && time.Since(start) < 150*time.Millisecond {
				t.Fatalf("timed out after %v, before the 150ms connect timeout", time.Since(start))
			}
			select {
			case c := <-p.opened:
				t.Fatalf("OnOpen ran for a failed dial (%v)", c)
			default:
			}
		})
	}
}

// TestDialFromCallback dials from inside OnOpen, on the caller's own loop:
// the new connection lives on the same loop.
func TestDialFromCallback(t *testing.T) {
	_, echoAddr := serve(t, echoProto{})
	type result struct {
		sameLoop bool
		err      error
	}
	res := make(chan result, 1)
	p := newRecorder()
	p.onOpen = func(c *conn.Conn) {
		l := loop.Of(c)
		l.Dial(context.Background(), "tcp", echoAddr, loop.BaseProtocol{}, func(dc *conn.Conn, err error) {
			if err != nil {
				res <- result{err: err}
				return
			}
			res <- result{sameLoop: loop.Of(dc) == l}
			dc.Close()
		})
	}
	_, addr := serve(t, p)
	dial(t, addr)
	select {
	case r := <-res:
		if r.err != nil || !r.sameLoop {
			t.Fatalf("dial from callback: sameLoop=%v err=%v", r.sameLoop, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("dial did not finish")
	}
}
