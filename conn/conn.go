// Package conn is one connection of reactor's event loops: a non-blocking
// socket with its inbound and outbound buffers, its timeouts, and the
// callbacks of the protocol that serves it.
//
// A Conn belongs to one event loop for its whole life. Its callbacks run on
// that loop's goroutine, one at a time, and its methods may be called only
// from there (from a callback, a timer, or a task submitted to the loop),
// except the few documented as safe for concurrent use: AsyncWrite, Wake
// and Submit.
//
// # Buffers
//
// Reads go into one read buffer shared by every connection of the loop. OnData
// sees the new bytes in place; only the bytes it leaves unconsumed are copied
// into the connection's own inbound buffer. Slices returned by Peek and Next
// point into those buffers and are valid until the callback returns or the
// next call that consumes input, whichever comes first: copy what must live
// longer. An idle connection holds no buffer memory.
//
// Write tries the socket first when nothing is queued and copies only what
// the kernel did not take, so the caller may reuse its slice as soon as Write
// returns. Queued bytes leave in order with writev when the socket is
// writable. Above the high watermark the connection stops reading from the
// peer (Write still queues, never drops); when the queue falls to the low
// watermark, reading resumes and OnWritable runs.
package conn

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/reactorkit/reactor/internal/timerheap"
	"github.com/reactorkit/reactor/poller"
)

// Handler is the set of callbacks a connection calls; loop.Protocol has the
// same methods and documents them. All run on the connection's loop goroutine.
type Handler interface {
	// OnOpen runs once the connection is open. Loop goroutine only.
	OnOpen(c *Conn)
	// OnData runs when inbound bytes are buffered, after the peer's FIN, and
	// after Wake. Loop goroutine only.
	OnData(c *Conn)
	// OnWritable runs when the outbound queue fell to the low watermark.
	// Loop goroutine only.
	OnWritable(c *Conn)
	// OnClose runs once, last, with the cause (nil for a clean close).
	// Loop goroutine only.
	OnClose(c *Conn, err error)
}

// EventHandler is anything an Owner dispatches poller events to: a
// connection, a listening socket, a dial in progress.
type EventHandler interface {
	// HandleEvent handles one poller event for the handler's fd.
	// Loop goroutine only.
	HandleEvent(ev poller.Event)
}

// Owner is what a connection needs from the event loop that owns it.
// package loop implements it; every method is called on the loop goroutine
// except Submit.
type Owner interface {
	// Register starts dispatching fd's events to h with interest in. An fd
	// the owner already dispatches (a dial that just connected) gets h in
	// place of its previous handler. Loop goroutine only.
	Register(fd int, in poller.Interest, h EventHandler) error
	// SetInterest changes a registered fd's interest. Loop goroutine only.
	SetInterest(fd int, in poller.Interest) error
	// CloseFD stops dispatching fd's events and closes it. Loop goroutine only.
	CloseFD(fd int) error
	// ReadBuffer returns the loop's shared read buffer. Loop goroutine only.
	ReadBuffer() []byte
	// Now returns the loop's monotonic clock in nanoseconds; never 0, so 0
	// can mean "not set". Safe for concurrent use.
	Now() int64
	// Schedule (re)schedules t to run on the loop at the clock value when.
	// Loop goroutine only.
	Schedule(t *timerheap.Timer, when int64)
	// Submit queues fn to run on the loop goroutine. Safe for concurrent use.
	Submit(fn func()) error
	// Closed tells the owner that c released its fd. Loop goroutine only.
	Closed(c *Conn)
	// Logger returns the loop's logger. Safe for concurrent use.
	Logger() *slog.Logger
	// Pool returns the loop's pool of outbound chunks. Loop goroutine only.
	Pool() *BufferPool
	// Counters returns the loop's running totals, which connections update.
	// Safe for concurrent use.
	Counters() *Counters
}

// Counters are the running byte totals of one loop's connections, for its
// statistics. Atomic: connections add on the loop goroutine, any goroutine
// may read.
type Counters struct {
	BytesIn  atomic.Uint64 // bytes read from sockets
	BytesOut atomic.Uint64 // bytes written to sockets, file segments included
	Queued   atomic.Int64  // outbound bytes queued and not yet sent
}

// Config holds the limits and timeouts of a group of connections (those of
// one listener or dial). It is read-only once a connection uses it; a
// per-connection setter copies it first.
type Config struct {
	// MaxInbound is the most unconsumed inbound bytes a connection may hold;
	// a peer that sends more is closed with ErrInboundLimit. 0 means
	// DefaultMaxInbound.
	MaxInbound int
	// WriteHighWatermark: when more outbound bytes than this are queued, the
	// connection stops reading. 0 means DefaultWriteHighWatermark.
	WriteHighWatermark int
	// WriteLowWatermark: when the queue falls to this after crossing the high
	// watermark, reading resumes and OnWritable runs. 0 means a quarter of
	// the high watermark.
	WriteLowWatermark int
	// AsyncWriteLimit caps the bytes AsyncWrite has accepted but not yet
	// queued, plus the bytes queued. 0 means DefaultAsyncWriteLimit.
	AsyncWriteLimit int
	// IdleTimeout closes a connection that moved no bytes either way for
	// this long (ErrIdleTimeout). 0 disables it.
	IdleTimeout time.Duration
	// ReadTimeout closes a connection whose unconsumed inbound bytes (an
	// incomplete frame) have waited this long (ErrReadTimeout); further bytes
	// do not restart it, consuming them all does. 0 disables it.
	ReadTimeout time.Duration
	// WriteTimeout closes a connection whose queued outbound bytes made no
	// progress for this long (ErrWriteTimeout). It also bounds how long Close
	// waits to flush. 0 means DefaultWriteTimeout; negative disables it.
	WriteTimeout time.Duration
	// HalfCloseTimeout closes a connection that is still open this long after
	// its peer shut down its side (ErrHalfCloseTimeout). 0 means
	// DefaultHalfCloseTimeout; negative disables it.
	HalfCloseTimeout time.Duration
	// TLS, when set, makes every connection start with a TLS handshake (as
	// the server for accepted connections, the client for dialed ones);
	// OnOpen runs once it has finished. Renegotiation is refused (see
	// StartTLS).
	TLS *tls.Config
	// HandshakeTimeout bounds a TLS handshake (ErrHandshakeTimeout). 0 means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// PoisonReadBuffer overwrites the loop's shared read buffer after each
	// OnData, so a protocol that keeps a borrowed slice sees garbage at once.
	// A debugging aid for tests; it costs a memset per read.
	PoisonReadBuffer bool
}

// Defaults for the zero values of Config.
const (
	DefaultMaxInbound         = 16 << 20
	DefaultWriteHighWatermark = 1 << 20
	DefaultAsyncWriteLimit    = 64 << 20
	DefaultWriteTimeout       = 60 * time.Second
	DefaultHalfCloseTimeout   = 30 * time.Second
)

// Normalized returns cfg with zero values replaced by their defaults and the
// watermarks made consistent. Safe for concurrent use.
func (cfg Config) Normalized() Config {
	if cfg.MaxInbound <= 0 {
		cfg.MaxInbound = DefaultMaxInbound
	}
	if cfg.WriteHighWatermark <= 0 {
		cfg.WriteHighWatermark = DefaultWriteHighWatermark
	}
	if cfg.WriteLowWatermark <= 0 || cfg.WriteLowWatermark > cfg.WriteHighWatermark {
		cfg.WriteLowWatermark = cfg.WriteHighWatermark / 4
	}
	if cfg.AsyncWriteLimit <= 0 {
		cfg.AsyncWriteLimit = DefaultAsyncWriteLimit
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.HalfCloseTimeout == 0 {
		cfg.HalfCloseTimeout = DefaultHalfCloseTimeout
	}
	return cfg
}

// Connection states, as bits of Conn.flags:
//
//	        OnOpen              Close, nothing queued
//	new ───────────► open ───────────────────────────────► closed (OnClose)
//	                  │  │                                   ▲
//	                  │  └─ Close with bytes queued ─► closing ─┘ flushed, or write timeout
//	                  └─ peer FIN ─► peerClosed (OnData once more; still writable)
//
// An error, a timeout or a limit goes straight to closed from any state.
const (
	flagOpened        uint32 = 1 << iota // OnOpen has run; OnClose is owed
	flagClosing                          // Close called; flushing queued bytes
	flagClosed                           // fd released; OnClose ran or is running
	flagPeerClosed                       // read returned EOF
	flagWriteShut                        // CloseWrite called: FIN after queued bytes
	flagWriteShutDone                    // shutdown(SHUT_WR) done
	flagUserPaused                       // PauseRead in effect
	flagBackpressure                     // reading stopped above the high watermark
	flagBorrowed                         // in points into the loop's read buffer
	flagDraining                         // the server is shutting down
	flagOwnConfig                        // cfg is this connection's private copy
	flagUnix                             // a Unix domain socket (no TCP options)
	flagReadDry                          // the last read found the socket empty
	flagDialed                           // the client side (for TLS's role)
	flagBusy                             // SetBusy(true): not idle, whatever its buffers say
	flagLingering                        // drained: FIN sent, reading and discarding until the peer's FIN
)

// Conn is one connection on an event loop. Unless a method says otherwise, it
// must be called on the connection's loop goroutine.
type Conn struct {
	fd    int        // the socket; immutable
	owner Owner      // the loop; immutable
	h     Handler    // the protocol; immutable
	cfg   *Config    // limits and timeouts; replaced (not mutated) by setters
	flags uint32     // state bits above; loop goroutine only
	in    []byte     // unconsumed inbound bytes; see flagBorrowed; loop goroutine only
	out   outQueue   // queued outbound bytes; loop goroutine only
	ctx   any        // the protocol's per-connection state; loop goroutine only
	extra *connExtra // rarely used state, allocated on first use; loop goroutine only
	tls   *tlsLayer  // the TLS layer; nil for plaintext; loop goroutine only

	interest poller.Interest // interest last set on the poller; loop goroutine only

	// Timeouts share one timer, armed for the earliest deadline; each
	// deadline is derived from the times below when the timer fires. Loop
	// goroutine only.
	timer      timerheap.Timer
	activeAt   int64 // last byte moved either way (idle timeout)
	readSince  int64 // when unconsumed inbound bytes appeared; 0: none
	writeSince int64 // last progress while bytes are queued; 0: none queued
	peerEOFAt  int64 // when the peer's FIN was read; 0: not yet

	// asyncPending counts bytes AsyncWrite accepted that the loop has not
	// queued yet; queued mirrors out.n for AsyncWrite's limit check (updated
	// when the queue changes, not on the fast path). done is set once the
	// connection closed. Atomic: any goroutine.
	asyncPending atomic.Int64
	queued       atomic.Int64
	done         atomic.Bool
	wakePending  atomic.Bool // a Wake's task is queued and has not run yet
}

// connExtra holds what most connections never need.
type connExtra struct {
	local, remote net.Addr // cached addresses
	// timers holds the AfterFunc timers that may still be scheduled, so
	// that closing the connection stops them: a timer in the loop's heap
	// would otherwise keep the closed connection reachable until it fired.
	// Entries that fired or were stopped are dropped on the next AfterFunc.
	timers []*Timer
}

// Setup describes how a connection came to be.
type Setup struct {
	Unix   bool // a Unix domain socket: no TCP options
	Dialed bool // the client side: TLS handshakes as the client
	// Ready, if set, runs once the connection is open, after OnOpen — at
	// once for plaintext, after the handshake for TLS — or with the
	// handshake's error if it failed (OnOpen and OnClose then never run).
	Ready func(c *Conn, err error)
}

// New makes a connection of fd, registers it with owner for reading and runs
// h.OnOpen (after the TLS handshake when cfg.TLS is set). fd must be a
// connected, non-blocking stream socket that owner does not dispatch yet, or
// a dial owner already dispatches. Loop goroutine only; package loop calls
// it for every accepted and dialed socket.
func New(fd int, owner Owner, h Handler, cfg *Config, setup Setup) (*Conn, error) {
	c := &Conn{fd: fd, owner: owner, h: h, cfg: cfg}
	if setup.Unix {
		c.flags |= flagUnix
	}
	if setup.Dialed {
		c.flags |= flagDialed
	}
	c.timer.Init(c.onTimer)
	if err := owner.Register(fd, poller.Read, (*driver)(c)); err != nil {
		return nil, err
	}
	c.interest = poller.Read
	if cfg.IdleTimeout > 0 {
		c.activeAt = owner.Now()
		c.armTimer()
	}
	if cfg.TLS != nil {
		c.startTLS(cfg.TLS, nil, Upgrade{Done: setup.Ready})
		return c, nil
	}
	c.flags |= flagOpened
	c.call(callOpen)
	if setup.Ready != nil {
		setup.Ready(c, nil)
	}
	return c, nil
}

// Fd returns the socket's file descriptor. Use it only for what Control does
// not cover; the connection owns it. Safe for concurrent use.
func (c *Conn) Fd() int { return c.fd }

// Owner returns the event loop the connection belongs to (a *loop.Loop).
// Safe for concurrent use.
func (c *Conn) Owner() Owner { return c.owner }

// Handler returns the protocol serving the connection.
// Safe for concurrent use.
func (c *Conn) Handler() Handler { return c.h }

// SetContext stores the protocol's per-connection state. Loop goroutine only.
func (c *Conn) SetContext(v any) { c.ctx = v }

// Context returns what SetContext stored. Loop goroutine only.
func (c *Conn) Context() any { return c.ctx }

// PeerClosed reports whether the peer has shut down its side: no more
// inbound bytes will arrive beyond those buffered. The connection stays
// writable until it is closed. Loop goroutine only.
func (c *Conn) PeerClosed() bool { return c.flags&flagPeerClosed != 0 }

// Closed reports whether Close was called or the connection ended.
// Loop goroutine only.
func (c *Conn) Closed() bool { return c.flags&(flagClosing|flagClosed) != 0 }

// InboundLen returns the number of buffered inbound bytes not yet consumed.
// Loop goroutine only.
func (c *Conn) InboundLen() int { return len(c.in) }

// Peek returns the first n buffered inbound bytes without consuming them; n
// <= 0 means all of them. With fewer than n buffered it returns them all and
// io.ErrShortBuffer. The slice is valid until the callback returns or the
// next call that consumes input. Loop goroutine only.
func (c *Conn) Peek(n int) ([]byte, error) {
	if n <= 0 || n == len(c.in) {
		return c.in, nil
	}
	if n > len(c.in) {
		return c.in, io.ErrShortBuffer
	}
	return c.in[:n], nil
}

// Next returns the first n buffered inbound bytes and consumes them; n <= 0
// means all of them. With fewer than n buffered it consumes nothing and
// returns them with io.ErrShortBuffer. The slice is valid until the callback
// returns or the next call that consumes input. Loop goroutine only.
func (c *Conn) Next(n int) ([]byte, error) {
	b, err := c.Peek(n)
	if err != nil {
		return b, err
	}
	c.in = c.in[len(b):]
	return b, nil
}

// Discard consumes the first n buffered inbound bytes (all when n <= 0 or
// fewer are buffered) and returns how many it consumed. Loop goroutine only.
func (c *Conn) Discard(n int) int {
	if n <= 0 || n > len(c.in) {
		n = len(c.in)
	}
	c.in = c.in[n:]
	return n
}

// Read copies buffered inbound bytes into p and consumes them, making the
// connection an io.Reader over what has arrived. It never waits: with
// nothing buffered it returns io.EOF. Loop goroutine only.
func (c *Conn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

// PauseRead stops reading from the peer until ResumeRead; bytes the kernel
// receives meanwhile stay in the socket buffer, and TCP flow control slows the
// peer down. The read timeout does not run while paused. Loop goroutine only.
func (c *Conn) PauseRead() {
	if c.flags&flagUserPaused != 0 {
		return
	}
	c.flags |= flagUserPaused
	c.readSince = 0
	c.updateInterest()
}

// ResumeRead undoes PauseRead. If inbound bytes are buffered, OnData runs
// soon after (from a loop task, not inside this call). Loop goroutine only.
func (c *Conn) ResumeRead() {
	if c.flags&flagUserPaused == 0 {
		return
	}
	c.flags &^= flagUserPaused
	c.noteInbound()
	c.updateInterest()
	if len(c.in) > 0 {
		c.owner.Submit(c.deliver)
	}
}

// Wake makes OnData run on the connection's loop soon, with or without new
// bytes; off-loop work uses it to hand results back. Calls made before that
// OnData runs are coalesced. Safe for concurrent use.
func (c *Conn) Wake() error {
	if c.done.Load() {
		return ErrClosed
	}
	if !c.wakePending.CompareAndSwap(false, true) {
		return nil
	}
	err := c.owner.Submit(func() {
		c.wakePending.Store(false)
		c.deliver()
	})
	if err != nil {
		c.wakePending.Store(false)
	}
	return err
}

// Submit runs fn on the connection's loop goroutine unless the connection
// has closed by then. Safe for concurrent use.
func (c *Conn) Submit(fn func(c *Conn)) error {
	if c.done.Load() {
		return ErrClosed
	}
	return c.owner.Submit(func() {
		if c.flags&flagClosed == 0 {
			fn(c)
		}
	})
}

// deliver runs OnData on a connection that is still open.
func (c *Conn) deliver() {
	if c.flags&flagClosed != 0 {
		return
	}
	c.call(callData)
	c.afterData()
}

// AfterFunc runs f on the loop after d unless the connection has closed by
// then or the returned timer is stopped first. Closing the connection stops
// its timers. Loop goroutine only.
func (c *Conn) AfterFunc(d time.Duration, f func()) *Timer {
	t := &Timer{}
	t.Init(f)
	if c.flags&flagClosed != 0 {
		return t // never scheduled: it would never run
	}
	x := c.ensureExtra()
	x.timers = slices.DeleteFunc(x.timers, func(t *Timer) bool { return !t.Scheduled() })
	x.timers = append(x.timers, t)
	c.owner.Schedule(t, c.owner.Now()+int64(d))
	return t
}

// stopTimers stops the connection's AfterFunc timers, when it closes.
func (c *Conn) stopTimers() {
	if c.extra == nil {
		return
	}
	for _, t := range c.extra.timers {
		t.Stop()
	}
	c.extra.timers = nil
}

// Timer is a timer on an event loop: Stop it (on the loop goroutine) to
// cancel it; a stopped timer never runs.
type Timer = timerheap.Timer
