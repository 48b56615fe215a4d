package loop_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

// lineProto consumes whole lines only, leaving an incomplete one buffered.
func lineProto() *recorder {
	p := newRecorder()
	p.onData = func(c *conn.Conn) {
		b, _ := c.Peek(0)
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			c.Discard(i + 1)
		}
	}
	return p
}

// trickle is a slowloris: it writes a byte to c every interval, never a
// whole line, until the server closes the connection (or the test does), and
// then reports on the channel how long after its first byte that was.
func trickle(c net.Conn, interval time.Duration) <-chan time.Duration {
	lived := make(chan time.Duration, 1)
	closed := make(chan struct{})
	start := time.Now()
	go func() {
		// The server never answers an incomplete line: Read returns when
		// the connection is closed.
		c.Read(make([]byte, 1))
		lived <- time.Since(start)
		close(closed)
	}()
	go func() {
		for {
			if _, err := c.Write([]byte("s")); err != nil {
				return
			}
			select {
			case <-closed:
				return
			case <-time.After(interval):
			}
		}
	}()
	return lived
}

// TestTimeouts checks that each timeout closes the connection with its own
// error, not earlier than configured (nor, where given, later than atMost),
// and that what should keep a connection alive does.
func TestTimeouts(t *testing.T) {
	const d = 150 * time.Millisecond
	tests := []struct {
		name string
		opts []loop.Option
		// open, if set, runs in OnOpen.
		open func(c *conn.Conn)
		// client drives the peer for a while; it may return early.
		client  func(c net.Conn)
		want    error
		atLeast time.Duration // the close must not come before this
		// atMost, if set, is the latest the close may come; the test waits
		// no longer than 10 × d for it.
		atMost time.Duration
	}{
		{
			name: "idle",
			opts: []loop.Option{loop.WithIdleTimeout(d)},
			want: loop.ErrIdleTimeout, atLeast: d,
		},
		{
			name: "idle, kept alive by traffic",
			opts: []loop.Option{loop.WithIdleTimeout(d)},
			client: func(c net.Conn) {
				for range 8 { // 8 × d/3 > 2.5 d of activity
					c.Write([]byte("x\n"))
					time.Sleep(d / 3)
				}
			},
			want: loop.ErrIdleTimeout, atLeast: 3 * d,
		},
		{
			name: "read: a slow incomplete frame",
			opts: []loop.Option{loop.WithReadTimeout(d)},
			// A byte every d/4 until the close: if each byte restarted the
			// read timeout, it would never come.
			client: func(c net.Conn) { trickle(c, d/4) },
			want:   loop.ErrReadTimeout, atLeast: d, atMost: 3 * d,
		},
		{
			name: "write: a peer that never reads",
			opts: []loop.Option{loop.WithWriteTimeout(d), loop.WithSocketBuffers(32<<10, 32<<10)},
			open: func(c *conn.Conn) { c.Write(make([]byte, 16<<20)) },
			want: loop.ErrWriteTimeout, atLeast: d,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := lineProto()
			p.onOpen = tt.open
			_, addr := serve(t, p, tt.opts...)
			start := time.Now() // before the server can start any timer
			c := dial(t, addr)
			c.SetReadBuffer(32 << 10)
			if tt.client != nil {
				go tt.client(c)
			}
			wait := 10 * time.Second
			if tt.atMost > 0 {
				wait = 10 * d
			}
			ev := p.waitClose(t, wait)
			took := time.Since(start)
			if ev.err != tt.want {
				t.Fatalf("OnClose(%v), want %v", ev.err, tt.want)
			}
			if !errors.Is(ev.err, os.ErrDeadlineExceeded) {
				t.Errorf("%v does not match os.ErrDeadlineExceeded", ev.err)
			}
			if took < tt.atLeast {
				t.Fatalf("closed after %v, before %v", took, tt.atLeast)
			}
			if tt.atMost > 0 && took > tt.atMost {
				t.Fatalf("closed after %v, later than %v", took, tt.atMost)
			}
		})
	}
}

// TestConnTimeoutSetters: each per-connection setter, called in OnOpen,
// overrides the listener's default: the connection closes with that
// timeout's own error (or the limit's) at about the time set, long before
// the default would have closed it.
func TestConnTimeoutSetters(t *testing.T) {
	const d = 200 * time.Millisecond
	const def = 30 * d // the listener's default for each timeout
	tests := []struct {
		name   string
		opt    loop.Option        // the listener's default
		open   func(c *conn.Conn) // sets this connection's own value
		client func(c *net.TCPConn)
		want   error
		timed  bool // the close comes d after the connection or the client's action
	}{
		{
			name: "idle", opt: loop.WithIdleTimeout(def),
			open: func(c *conn.Conn) { c.SetIdleTimeout(d) },
			want: loop.ErrIdleTimeout, timed: true,
		},
		{
			name: "read", opt: loop.WithReadTimeout(def),
			open:   func(c *conn.Conn) { c.SetReadTimeout(d) },
			client: func(c *net.TCPConn) { c.Write([]byte("no end of line")) },
			want:   loop.ErrReadTimeout, timed: true,
		},
		{
			name: "write", opt: loop.WithWriteTimeout(def),
			open: func(c *conn.Conn) {
				c.Write(make([]byte, 16<<20)) // queued under the default first
				c.SetWriteTimeout(d)
			},
			want: loop.ErrWriteTimeout, timed: true,
		},
		{
			name: "half-close", opt: loop.WithHalfCloseTimeout(def),
			open:   func(c *conn.Conn) { c.SetHalfCloseTimeout(d) },
			client: func(c *net.TCPConn) { c.CloseWrite() },
			want:   loop.ErrHalfCloseTimeout, timed: true,
		},
		{
			name: "max inbound", opt: loop.WithMaxInbound(1 << 20),
			open:   func(c *conn.Conn) { c.SetMaxInbound(1 << 10) },
			client: func(c *net.TCPConn) { c.Write(make([]byte, 4<<10)) }, // no end of line
			want:   loop.ErrInboundLimit,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := lineProto()
			p.onOpen = tt.open
			_, addr := serve(t, p, tt.opt, loop.WithSocketBuffers(32<<10, 32<<10))
			start := time.Now() // before the server can start any timer
			c := dial(t, addr)
			c.SetReadBuffer(32 << 10)
			if tt.client != nil {
				tt.client(c)
			}
			ev := p.waitClose(t, 10*d) // the default would take 30 d
			took := time.Since(start)
			if ev.err != tt.want {
				t.Fatalf("OnClose(%v), want %v", ev.err, tt.want)
			}
			if tt.timed && (took < d || took > 5*d) {
				t.Fatalf("closed after %v; the connection's own timeout is %v, the default %v", took, d, def)
			}
		})
	}
}

// TestTimersOrderAndGoroutine checks that connection and loop timers fire in
// deadline order, on the loop's goroutine, and that stopped ones never fire.
func TestTimersOrderAndGoroutine(t *testing.T) {
	var mu sync.Mutex
	var fired []string
	var loopG uint64
	done := make(chan struct{})
	record := func(name string) func() {
		return func() {
			mu.Lock()
			defer mu.Unlock()
			if g := goroutineID(); g != loopG {
				t.Errorf("timer %s ran on goroutine %d, the loop is %d", name, g, loopG)
			}
			fired = append(fired, name)
			if name == "last" {
				close(done)
			}
		}
	}
	p := newRecorder()
	p.onOpen = func(c *conn.Conn) {
		loopG = goroutineID()
		l := loop.Of(c)
		c.AfterFunc(60*time.Millisecond, record("c60"))
		l.AfterFunc(20*time.Millisecond, record("l20"))
		c.AfterFunc(40*time.Millisecond, record("c40"))
		stopped := c.AfterFunc(30*time.Millisecond, record("stopped"))
		l.AfterFunc(10*time.Millisecond, record("l10"))
		lstopped := l.AfterFunc(50*time.Millisecond, record("lstopped"))
		l.AfterFunc(100*time.Millisecond, record("last"))
		if !stopped.Stop() || !lstopped.Stop() {
			t.Error("Stop of a pending timer returned false")
		}
	}
	_, addr := serve(t, p)
	dial(t, addr)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("timers did not fire")
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"l10", "l20", "c40", "c60", "last"}; !slices.Equal(fired, want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
}

// TestConnTimerStopsAtClose: a connection's timers do not run after it
// closed, and closing takes them out of the loop's timers, so a long timer
// does not keep a closed connection in memory until it is due.
func TestConnTimerStopsAtClose(t *testing.T) {
	fired := make(chan struct{}, 1)
	p := newRecorder()
	p.onOpen = func(c *conn.Conn) {
		c.AfterFunc(50*time.Millisecond, func() { fired <- struct{}{} })
		c.AfterFunc(time.Hour, func() { fired <- struct{}{} })
		stopped := c.AfterFunc(time.Hour, func() { fired <- struct{}{} })
		stopped.Stop()
		c.AfterFunc(time.Hour, func() { fired <- struct{}{} })
		c.Close()
	}
	s, addr := serve(t, p)
	dial(t, addr)
	p.waitClose(t, 5*time.Second)
	for _, l := range s.Loops() {
		onLoop(t, l, func() {}) // let each loop publish its timer count
	}
	if n := s.Stats().Total.Timers; n != 0 {
		t.Errorf("%d timers armed after the connection closed", n)
	}
	select {
	case <-fired:
		t.Fatal("a closed connection's timer fired")
	case <-time.After(200 * time.Millisecond):
	}
}
