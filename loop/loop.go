// Package loop runs reactor's event loops: each is one goroutine that owns a
// poller, every connection registered on it, a read buffer and a heap of
// timers, and calls a Protocol back when a connection opens, has data, can
// take more writes, or closes.
//
// A Server runs N loops (runtime.NumCPU() by default). Its listeners accept
// connections and spread them over the loops; a connection never moves
// between loops. Connections a callback opens with Loop.Listen or Loop.Dial
// live on the caller's loop, so a protocol's related connections (an FTP
// session's control and data connections) share one goroutine and need no
// locks.
//
// Goroutine safety: Server's methods, Loop.Submit, Conn.AsyncWrite,
// Conn.Wake and Conn.Submit are safe from any goroutine. Everything else,
// Loop.Listen, Loop.Dial and Loop.AfterFunc included, must run on the loop's
// goroutine: in a callback, a timer, or a function given to Submit.
package loop

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/internal/timerheap"
	"github.com/reactorkit/reactor/poller"
)

// Loop is one event loop of a Server.
type Loop struct {
	index  int           // position in the server's loops; immutable
	server *Server       // immutable
	poller poller.Poller // immutable
	logger *slog.Logger  // immutable
	start  time.Time     // origin of Now; immutable

	// Loop goroutine only.
	handlers   []conn.EventHandler // what each registered fd's events go to, by fd
	readBuf    []byte              // the shared read buffer
	pool       conn.BufferPool     // recycled outbound chunks
	timers     timerheap.Heap      // every timer of the loop and its connections
	rtWhen     int64               // deadline rt is armed for; 0 when disarmed
	nconns     int                 // open connections
	paused     []*acceptor         // acceptors backing off after EMFILE and the like
	draining   bool                // the server is shutting down: connections drain
	stopping   bool                // Run is to return at the end of this wake-up
	spare      []func()            // the task slice not in use, for reuse
	lastTimers int64               // timers armed when counts.timers was last stored

	// rt is the loop's one runtime timer, armed for the earliest deadline in
	// timers; when it fires, timersDue is set and the loop is woken. The
	// poller has no wait timeout of its own (not every backend takes one).
	rt        *time.Timer
	timersDue atomic.Bool

	// open mirrors nconns for other goroutines (LeastConnections, Stats).
	open atomic.Int64

	// counters and counts are the loop's statistics: written by the loop
	// goroutine, read by Stats and the watchdog. Atomic.
	counters conn.Counters
	counts   struct {
		accepted, dialed, closed atomic.Uint64
		stalls                   atomic.Uint64
		timers                   atomic.Int64 // timers armed
		busy                     atomic.Int64 // nanoseconds spent working, estimated from samples
		longest                  atomic.Int64 // the longest unit of work seen, ns

		// seq counts units of work begun and ended: odd while one runs.
		// The watchdog reads it to find a unit that runs too long.
		seq atomic.Uint64
		// stallFrom is Now() when the watchdog first saw the running unit
		// that it has reported as a stall, 0 when none; the loop logs and
		// clears it when that unit ends.
		stallFrom atomic.Int64
	}
	sampleTick uint32 // counts units of work, to time one in timingSample; loop goroutine only

	// drained is closed by the loop goroutine once it is draining and has no
	// connection left; drainedOnce guards the close (loop goroutine only).
	drained     chan struct{}
	drainedDone bool

	// mu guards tasks and closed, and is held around every Wake of the
	// poller: Submit appends from any goroutine, the loop takes the whole
	// slice on each wake-up.
	mu     sync.Mutex
	tasks  []func()
	closed bool // Run has returned; Submit refuses work

	done chan struct{} // closed when the loop goroutine has exited
}

func newLoop(s *Server, index int) (*Loop, error) {
	p, err := poller.New()
	if err != nil {
		return nil, fmt.Errorf("loop %d: %w", index, err)
	}
	l := &Loop{
		index:   index,
		server:  s,
		poller:  p,
		logger:  s.set.logger.With("loop", index),
		start:   time.Now(),
		readBuf: make([]byte, s.set.readBufSize),
		drained: make(chan struct{}),
		done:    make(chan struct{}),
	}
	l.rt = time.AfterFunc(time.Hour, func() {
		l.timersDue.Store(true)
		l.wake()
	})
	l.rt.Stop()
	return l, nil
}

// Of returns the loop that owns c. Safe for concurrent use.
func Of(c *conn.Conn) *Loop {
	o, _ := c.Owner().(*owner)
	return (*Loop)(o)
}

// Index returns the loop's position among its server's loops.
// Safe for concurrent use.
func (l *Loop) Index() int { return l.index }

// Server returns the server the loop belongs to. Safe for concurrent use.
func (l *Loop) Server() *Server { return l.server }

// Now returns the loop's monotonic clock, in nanoseconds since the loop
// started (plus one, so that it is never 0). Safe for concurrent use.
func (l *Loop) Now() int64 { return int64(time.Since(l.start)) + 1 }

// Submit queues fn to run on the loop goroutine, after the events and tasks
// already queued. A panic in fn is logged and goes no further. It returns
// ErrServerClosed once the loop has stopped. Safe for concurrent use.
func (l *Loop) Submit(fn func()) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrServerClosed
	}
	l.tasks = append(l.tasks, fn)
	err := l.poller.Wake()
	l.mu.Unlock()
	return err
}

// wake wakes the loop unless it has stopped. Wake runs under mu, like
// Submit's, so that once run has set closed no Wake can touch the poller's
// descriptors, which Release is about to close (and the kernel to reuse).
// Wake never blocks: it is a CAS and, at most, one write to an eventfd.
func (l *Loop) wake() {
	l.mu.Lock()
	if !l.closed {
		l.poller.Wake()
	}
	l.mu.Unlock()
}

// AfterFunc runs fn on the loop after d, unless the returned timer is
// stopped first. For work such as expiring keys; a connection's own timers
// (c.AfterFunc) also stop when it closes. Loop goroutine only.
func (l *Loop) AfterFunc(d time.Duration, fn func()) *conn.Timer {
	t := &conn.Timer{}
	t.Init(func() { l.safely("timer", fn) })
	l.schedule(t, l.Now()+int64(d))
	return t
}

// Reset reschedules t, a timer of this loop that has run or was stopped or
// is still waiting, to run d from now. Loop goroutine only.
func (l *Loop) Reset(t *conn.Timer, d time.Duration) {
	l.schedule(t, l.Now()+int64(d))
}

// safely runs fn, logging a panic instead of letting it kill the loop.
func (l *Loop) safely(what string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			l.logger.Error("reactor: panic in loop "+what, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// schedule puts t on the heap and re-arms the runtime timer if t is now the
// earliest.
func (l *Loop) schedule(t *timerheap.Timer, when int64) {
	l.timers.Schedule(t, when)
	if l.rtWhen == 0 || when < l.rtWhen {
		l.arm(when)
	}
}

// arm sets the runtime timer to fire at when.
func (l *Loop) arm(when int64) {
	l.rtWhen = when
	l.rt.Reset(time.Duration(max(when-l.Now(), 0)))
}

// runTimers runs the due timers and re-arms the runtime timer for the next.
func (l *Loop) runTimers() {
	l.rtWhen = 0
	l.timers.RunDue(l.Now())
	if next, ok := l.timers.Next(); ok && (l.rtWhen == 0 || next < l.rtWhen) {
		l.arm(next)
	}
}

// runTasks runs the tasks queued so far; tasks they queue run on the next
// wake-up, which their Submit has already asked for.
func (l *Loop) runTasks() {
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = l.spare[:0]
	l.mu.Unlock()
	for i, fn := range tasks {
		l.safely("task", fn)
		tasks[i] = nil
	}
	l.spare = tasks[:0]
}

// register starts dispatching fd's events to h; an fd already dispatched
// (a dial that just connected) gets h in place of its previous handler.
func (l *Loop) register(fd int, in poller.Interest, h conn.EventHandler) error {
	if fd < len(l.handlers) && l.handlers[fd] != nil {
		if err := l.poller.Modify(fd, in); err != nil {
			return err
		}
		l.handlers[fd] = h
		return nil
	}
	if fd >= len(l.handlers) {
		hs := make([]conn.EventHandler, max(2*len(l.handlers), fd+1, 64))
		copy(hs, l.handlers)
		l.handlers = hs
	}
	if err := l.poller.Add(fd, in); err != nil {
		return err
	}
	l.handlers[fd] = h
	return nil
}

// closeFD stops dispatching fd and closes it.
func (l *Loop) closeFD(fd int) error {
	if fd < len(l.handlers) {
		l.handlers[fd] = nil
	}
	return l.poller.Close(fd)
}

// connOpened counts a connection about to be made on this loop.
func (l *Loop) connOpened(dialed bool) {
	l.nconns++
	l.open.Add(1)
	if dialed {
		l.counts.dialed.Add(1)
	} else {
		l.counts.accepted.Add(1)
	}
}

// connClosed counts a closed connection: fds are free again, so acceptors
// backing off after EMFILE retry at once, and a draining loop may be done.
func (l *Loop) connClosed() {
	l.nconns--
	l.open.Add(-1)
	l.counts.closed.Add(1)
	for len(l.paused) > 0 {
		a := l.paused[len(l.paused)-1]
		l.paused = l.paused[:len(l.paused)-1]
		a.resume()
	}
	l.checkDrained()
}

// checkDrained signals the server once a draining loop has no connections.
func (l *Loop) checkDrained() {
	if l.draining && l.nconns == 0 && !l.drainedDone {
		l.drainedDone = true
		close(l.drained)
	}
}

// run is the loop goroutine.
func (l *Loop) run() {
	defer close(l.done)
	if err := l.poller.Run((*events)(l)); err != nil {
		l.logger.Error("reactor: poller failed; the loop stops", "err", err)
	}
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.rt.Stop()
	// Run what was queued before Submit started refusing, so work handed
	// back from other goroutines (closing a file, say) is not lost.
	l.runTasks()
	// Shutdown closes everything first; this catches a failed poller.
	for fd, h := range l.handlers {
		switch h := h.(type) {
		case nil:
		case conn.Drainer:
			h.Abort(ErrServerClosed)
		default:
			l.closeFD(fd)
		}
	}
	if err := l.poller.Release(); err != nil {
		l.logger.Warn("reactor: releasing poller", "err", err)
	}
}

// events is the face of a Loop that its poller calls.
type events Loop

// Ready implements poller.Handler.
func (e *events) Ready(fd int, ev poller.Event) {
	l := (*Loop)(e)
	if fd >= len(l.handlers) {
		return
	}
	h := l.handlers[fd]
	if h == nil {
		return
	}
	l.timed(func() { h.HandleEvent(ev) }, func() string { return handlerName(h) })
}

// Woken implements poller.Handler: due timers, then queued tasks.
func (e *events) Woken() bool {
	l := (*Loop)(e)
	l.timed(func() {
		if l.timersDue.Swap(false) {
			l.runTimers()
		}
		l.runTasks()
	}, func() string { return "tasks and timers (Submit, AfterFunc, AsyncWrite, Wake)" })
	return l.stopping
}

// owner is the face of a Loop that its connections use (conn.Owner).
type owner Loop

var _ conn.Owner = (*owner)(nil)

func (o *owner) Register(fd int, in poller.Interest, h conn.EventHandler) error {
	return (*Loop)(o).register(fd, in, h)
}
func (o *owner) SetInterest(fd int, in poller.Interest) error { return o.poller.Modify(fd, in) }
func (o *owner) CloseFD(fd int) error                         { return (*Loop)(o).closeFD(fd) }
func (o *owner) ReadBuffer() []byte                           { return o.readBuf }
func (o *owner) Now() int64                                   { return (*Loop)(o).Now() }
func (o *owner) Schedule(t *timerheap.Timer, when int64)      { (*Loop)(o).schedule(t, when) }
func (o *owner) Submit(fn func()) error                       { return (*Loop)(o).Submit(fn) }
func (o *owner) Closed(*conn.Conn)                            { (*Loop)(o).connClosed() }
func (o *owner) Logger() *slog.Logger                         { return o.logger }
func (o *owner) Pool() *conn.BufferPool                       { return &o.pool }
func (o *owner) Counters() *conn.Counters                     { return &o.counters }
