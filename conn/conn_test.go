package conn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/internal/sock"
	"github.com/reactorkit/reactor/loop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// funcProto runs test code in callbacks.
type funcProto struct {
	loop.BaseProtocol
	open  func(c *conn.Conn)
	data  func(c *conn.Conn)
	close func(c *conn.Conn, err error)
}

func (p *funcProto) OnOpen(c *conn.Conn) {
	if p.open != nil {
		p.open(c)
	}
}

func (p *funcProto) OnData(c *conn.Conn) {
	if p.data != nil {
		p.data(c)
		return
	}
	c.Discard(0)
}

func (p *funcProto) OnClose(c *conn.Conn, err error) {
	if p.close != nil {
		p.close(c, err)
	}
}

// serve starts a one-loop server for p and returns a connected client.
func serve(t *testing.T, p loop.Protocol, opts ...loop.Option) net.Conn {
	t.Helper()
	s, err := loop.NewServer(loop.WithLoops(1), loop.WithPoisonReadBuffer(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	ln, err := s.Listen("tcp", "127.0.0.1:0", p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// TestInboundAccessors checks Peek, Next, Discard and Read on one buffered
// message, and that unconsumed bytes survive to the next OnData.
func TestInboundAccessors(t *testing.T) {
	type step struct {
		op   string // peek, next, discard, read
		n    int
		want string
		err  error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "peek does not consume", steps: []step{
			{op: "peek", n: 3, want: "hel"}, {op: "peek", n: 0, want: "hello world"},
		}},
		{name: "next consumes", steps: []step{
			{op: "next", n: 6, want: "hello "}, {op: "next", n: 0, want: "world"}, {op: "peek", n: 0, want: ""},
		}},
		{name: "short next consumes nothing", steps: []step{
			{op: "next", n: 50, want: "hello world", err: io.ErrShortBuffer}, {op: "peek", n: 0, want: "hello world"},
		}},
		{name: "discard", steps: []step{
			{op: "discard", n: 6, want: "6"}, {op: "peek", n: 0, want: "world"}, {op: "discard", n: 100, want: "5"},
		}},
		{name: "read as io.Reader", steps: []step{
			{op: "read", n: 4, want: "hell"}, {op: "read", n: 100, want: "o world"}, {op: "read", n: 10, want: "", err: io.EOF},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			p := &funcProto{data: func(c *conn.Conn) {
				if c.PeerClosed() {
					c.Close()
					return
				}
				if c.InboundLen() < len("hello world") {
					return // wait for the whole message
				}
				for i, s := range tt.steps {
					var got []byte
					var err error
					switch s.op {
					case "peek":
						got, err = c.Peek(s.n)
					case "next":
						got, err = c.Next(s.n)
					case "discard":
						got = []byte(string(rune('0' + c.Discard(s.n))))
					case "read":
						buf := make([]byte, s.n)
						var n int
						n, err = c.Read(buf)
						got = buf[:n]
					}
					if string(got) != s.want || err != s.err {
						done <- errors.New("step " + string(rune('0'+i)) + " " + s.op + ": got " + string(got) + " / " + errString(err))
						return
					}
				}
				done <- nil
			}}
			c := serve(t, p)
			c.Write([]byte("hello "))
			time.Sleep(10 * time.Millisecond)
			c.Write([]byte("world"))
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("OnData never saw the whole message")
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// TestSocketOptions sets each option from a callback and reads it back with
// getsockopt.
func TestSocketOptions(t *testing.T) {
	type result struct {
		name string
		err  error
		ok   bool
	}
	results := make(chan result, 16)
	get := func(c *conn.Conn, level, opt int) (v int) {
		c.Control(func(fd uintptr) { v, _ = unix.GetsockoptInt(int(fd), level, opt) })
		return v
	}
	p := &funcProto{open: func(c *conn.Conn) {
		check := func(name string, err error, ok bool) { results <- result{name, err, ok} }
		err := c.SetNoDelay(false)
		check("SetNoDelay(false)", err, get(c, unix.IPPROTO_TCP, unix.TCP_NODELAY) == 0)
		err = c.SetNoDelay(true)
		check("SetNoDelay(true)", err, get(c, unix.IPPROTO_TCP, unix.TCP_NODELAY) != 0)
		err = c.SetKeepAlive(42 * time.Second)
		check("SetKeepAlive", err, get(c, unix.SOL_SOCKET, unix.SO_KEEPALIVE) != 0 && (sock.TCPKeepIdle < 0 || get(c, unix.IPPROTO_TCP, sock.TCPKeepIdle) == 42))
		err = c.SetKeepAlive(0)
		check("SetKeepAlive(0)", err, get(c, unix.SOL_SOCKET, unix.SO_KEEPALIVE) == 0)
		err = c.SetReadBuffer(64 << 10)
		check("SetReadBuffer", err, get(c, unix.SOL_SOCKET, unix.SO_RCVBUF) >= 64<<10)
		err = c.SetWriteBuffer(64 << 10)
		check("SetWriteBuffer", err, get(c, unix.SOL_SOCKET, unix.SO_SNDBUF) >= 64<<10)
		err = c.SetLinger(5)
		check("SetLinger(5) refused", nil, errors.Is(err, conn.ErrBlockingLinger))
		err = c.SetLinger(0)
		var l *unix.Linger
		c.Control(func(fd uintptr) { l, _ = unix.GetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER) })
		check("SetLinger(0)", err, l != nil && l.Onoff == 1 && l.Linger == 0)
		var oob int
		c.Control(func(fd uintptr) {
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_OOBINLINE, 1)
			oob, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_OOBINLINE)
		})
		check("Control(SO_OOBINLINE)", nil, oob == 1)
		la, ra := c.LocalAddr(), c.RemoteAddr()
		check("addresses", nil, la != nil && ra != nil && la.(*net.TCPAddr).IP.IsLoopback() && ra.(*net.TCPAddr).Port != 0)
		close(results)
	}}
	serve(t, p)
	n := 0
	for r := range results {
		n++
		if r.err != nil || !r.ok {
			t.Errorf("%s: err=%v, option not in effect", r.name, r.err)
		}
	}
	if n != 10 {
		t.Fatalf("%d checks ran", n)
	}
}

// TestWritevAndSendFile sends bytes, a file range and more bytes, in order.
func TestWritevAndSendFile(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 300000) // 4.8 MB
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	p := &funcProto{open: func(c *conn.Conn) {
		c.Writev([][]byte{[]byte("head:"), nil, []byte("er|")})
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		if err := c.SendFile(f, 16, int64(len(content))-32); err != nil {
			t.Error(err)
		}
		c.Write([]byte("|tail"))
		c.Close()
	}}
	c := serve(t, p, loop.WithSocketBuffers(64<<10, 64<<10))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte("head:er|"), content[16:len(content)-16]...), "|tail"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d; equal=%v", len(got), len(want), bytes.Equal(got, want))
	}
}

// TestSendFileShortFile: a range past the end of the file closes the
// connection with an error instead of waiting forever.
func TestSendFileShortFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "short")
	os.WriteFile(path, []byte("tiny"), 0o600)
	closed := make(chan error, 1)
	p := &funcProto{
		open: func(c *conn.Conn) {
			f, _ := os.Open(path)
			c.SendFile(f, 0, 1000)
		},
		close: func(c *conn.Conn, err error) { closed <- err },
	}
	serve(t, p)
	select {
	case err := <-closed:
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("OnClose(%v), want ErrUnexpectedEOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed")
	}
}

// TestPoisonReadBuffer: with WithPoisonReadBuffer, a slice of the loop's
// read buffer that a protocol keeps from Peek past its OnData holds the
// poison byte (0xDB) by the next callback, so the mistake shows at once;
// without it, the stale slice still reads the old bytes and hides it.
func TestPoisonReadBuffer(t *testing.T) {
	msg := []byte("borrowed bytes!\n")
	for _, poison := range []bool{true, false} {
		t.Run(fmt.Sprint("poison=", poison), func(t *testing.T) {
			var held []byte // loop goroutine only
			seen := make(chan []byte, 1)
			p := &funcProto{data: func(c *conn.Conn) {
				if held == nil {
					held, _ = c.Peek(0) // kept past the callback: the bug
					c.Discard(0)
					c.Wake() // the next callback, with no read in between
					return
				}
				seen <- append([]byte(nil), held...)
			}}
			c := serve(t, p, loop.WithPoisonReadBuffer(poison))
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			var got []byte
			select {
			case got = <-seen:
			case <-time.After(5 * time.Second):
				t.Fatal("no second OnData")
			}
			want := msg[:len(got)]
			if poison {
				want = bytes.Repeat([]byte{0xDB}, len(got))
			}
			if len(got) == 0 || !bytes.Equal(got, want) {
				t.Fatalf("the kept slice reads %q in the next callback, want %q", got, want)
			}
		})
	}
}
