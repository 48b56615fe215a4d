package loop_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

func TestMain(m *testing.M) {
	if os.Getenv(emfileChildEnv) != "" {
		emfileChild()
		return
	}
	if os.Getenv(memChildEnv) != "" {
		memChild()
		return
	}
	goleak.VerifyTestMain(m)
}

// serve starts a server with the given options and one TCP listener on a
// free loopback port; the test's cleanup shuts it down.
func serve(t testing.TB, p loop.Protocol, opts ...loop.Option) (*loop.Server, string) {
	t.Helper()
	s := newServer(t, opts...)
	ln, err := s.Listen("tcp", "127.0.0.1:0", p)
	if err != nil {
		t.Fatal(err)
	}
	return s, ln.Addr().String()
}

// serveUnmanaged starts a server with the given options and one TCP
// listener on a free loopback port, as serve does, but leaves shutting it
// down to the test: for the tests of Shutdown and the drain. It sets no
// options of its own.
func serveUnmanaged(t testing.TB, p loop.Protocol, opts ...loop.Option) (*loop.Server, string) {
	t.Helper()
	s, err := loop.NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := s.Listen("tcp", "127.0.0.1:0", p)
	if err != nil {
		t.Fatal(err)
	}
	return s, ln.Addr().String()
}

func newServer(t testing.TB, opts ...loop.Option) *loop.Server {
	t.Helper()
	s, err := loop.NewServer(append([]loop.Option{loop.WithLoops(2), loop.WithPoisonReadBuffer(true)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// echoProto writes back everything and closes once the peer half-closed.
type echoProto struct{ loop.BaseProtocol }

func (echoProto) OnData(c *conn.Conn) {
	b, _ := c.Next(0)
	c.Write(b)
	if c.PeerClosed() {
		c.Close()
	}
}

// closeEvent is one OnClose.
type closeEvent struct {
	c   *conn.Conn
	err error
}

// recorder is a Protocol that reports its callbacks on channels and runs
// optional hooks. The channels are buffered generously; tests read what they
// need.
type recorder struct {
	onOpen     func(c *conn.Conn)
	onData     func(c *conn.Conn)
	onWritable func(c *conn.Conn)

	opened   chan *conn.Conn
	closed   chan closeEvent
	writable chan *conn.Conn
}

func newRecorder() *recorder {
	return &recorder{
		opened:   make(chan *conn.Conn, 4096),
		closed:   make(chan closeEvent, 4096),
		writable: make(chan *conn.Conn, 4096),
	}
}

func (r *recorder) OnOpen(c *conn.Conn) {
	if r.onOpen != nil {
		r.onOpen(c)
	}
	r.opened <- c
}

func (r *recorder) OnData(c *conn.Conn) {
	if r.onData != nil {
		r.onData(c)
		return
	}
	c.Discard(0)
}

func (r *recorder) OnWritable(c *conn.Conn) {
	if r.onWritable != nil {
		r.onWritable(c)
	}
	r.writable <- c
}

func (r *recorder) OnClose(c *conn.Conn, err error) { r.closed <- closeEvent{c, err} }

// waitClose returns the next OnClose, failing the test after d.
func (r *recorder) waitClose(t testing.TB, d time.Duration) closeEvent {
	t.Helper()
	select {
	case ev := <-r.closed:
		return ev
	case <-time.After(d):
		t.Fatalf("no OnClose within %v", d)
	}
	return closeEvent{}
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// queueEcho returns a recorder that echoes, closes once the peer
// half-closed, and keeps in maxQueued the longest outbound queue it saw
// after a write: what the slow-reader tests hold to the high watermark.
func queueEcho(maxQueued *atomic.Int64) *recorder {
	p := newRecorder()
	p.onData = func(c *conn.Conn) {
		b, _ := c.Next(0)
		c.Write(b)
		if q := int64(c.OutboundLen()); q > maxQueued.Load() {
			maxQueued.Store(q)
		}
		if c.PeerClosed() {
			c.Close()
		}
	}
	return p
}

// halfCloser is a connection that can shut down its sending side alone: a
// *net.TCPConn or a *tls.Conn.
type halfCloser interface {
	io.Writer
	CloseWrite() error
}

// sendAndCloseWrite writes data to c and then half-closes it, on another
// goroutine, and delivers the first failure, or nil, on the channel it
// returns.
func sendAndCloseWrite(c halfCloser, data []byte) <-chan error {
	sent := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		sent <- err
	}()
	return sent
}

// echoCheck sends data over c in the given chunk sizes while reading the echo
// on another goroutine, half-closes, and checks every byte came back.
func echoCheck(c net.Conn, data []byte, chunk func() int) error {
	errc := make(chan error, 1)
	go func() {
		for off := 0; off < len(data); {
			n := min(chunk(), len(data)-off)
			if _, err := c.Write(data[off : off+n]); err != nil {
				errc <- err
				return
			}
			off += n
		}
		errc <- c.(interface{ CloseWrite() error }).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if werr := <-errc; werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		i := 0
		for i < len(got) && i < len(data) && got[i] == data[i] {
			i++
		}
		return errors.New("echo differs at byte " + strconv.Itoa(i) + " of " + strconv.Itoa(len(data)) + " (got " + strconv.Itoa(len(got)) + ")")
	}
	return nil
}

// openFDs counts this process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// goroutineID returns the calling goroutine's id, to check which goroutine
// runs a callback.
func goroutineID() uint64 {
	var buf [64]byte
	s := string(buf[:runtime.Stack(buf[:], false)])
	s = strings.TrimPrefix(s, "goroutine ")
	id, _ := strconv.ParseUint(s[:strings.IndexByte(s, ' ')], 10, 64)
	return id
}

// onLoop runs fn on l and waits for it.
func onLoop(t testing.TB, l *loop.Loop, fn func()) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	if err := l.Submit(func() { defer wg.Done(); fn() }); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}
