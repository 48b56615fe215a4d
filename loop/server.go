package loop

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/reactorkit/reactor/conn"
)

// Server runs a set of event loops, the listeners that feed them, and the
// connections they dial. Its methods are goroutine-safe, but Listen, Dial and
// Shutdown wait for the loops and so must not be called from a loop
// goroutine: there, use Loop.Listen and Loop.Dial.
type Server struct {
	set   settings // the options given to NewServer; immutable
	loops []*Loop  // immutable

	mu        sync.Mutex
	listeners []*Listener // server listeners, for Shutdown; guarded by mu

	next     atomic.Uint32 // spreads listeners and dials over the loops
	shutting atomic.Bool   // Shutdown or Close began: no new listeners or dials
	stopped  chan struct{} // closed when Shutdown has finished
	stopErr  error         // Shutdown's result; written before stopped closes

	stopWatch chan struct{} // closed to stop the stall watchdog
	watchDone chan struct{} // closed when the watchdog has returned
}

// NewServer starts the event loops (WithLoops; runtime.NumCPU() by default)
// with opts as the defaults of every listener and dial. Stop it with
// Shutdown or Close.
func NewServer(opts ...Option) (*Server, error) {
	set, err := defaultSettings().with(scopeServer, opts)
	if err != nil {
		return nil, err
	}
	s := &Server{set: set, stopped: make(chan struct{})}
	for i := range set.loops {
		l, err := newLoop(s, i)
		if err != nil {
			for _, l := range s.loops {
				l.poller.Release()
			}
			return nil, err
		}
		s.loops = append(s.loops, l)
	}
	for _, l := range s.loops {
		go l.run()
	}
	s.stopWatch, s.watchDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.watchDone)
		if set.stallThreshold > 0 {
			s.watchdog(s.stopWatch)
		}
	}()
	return s, nil
}

// Loops returns the server's event loops. Safe for concurrent use.
func (s *Server) Loops() []*Loop { return s.loops }

// nextLoop returns the loops in turn.
func (s *Server) nextLoop() *Loop {
	return s.loops[int(s.next.Add(1)-1)%len(s.loops)]
}

// onLoop runs fn on l and waits for it.
func onLoop(l *Loop, fn func()) error {
	done := make(chan struct{})
	if err := l.Submit(func() { defer close(done); fn() }); err != nil {
		return err
	}
	<-done
	return nil
}

// Listen opens a listener served by p on network ("tcp", "tcp4", "tcp6" or
// "unix") and address; ":port" listens on IPv4 and IPv6 as package net does,
// and port 0 picks a free port (see Listener.Addr). By default one socket
// accepts and spreads connections over the loops; WithReusePort gives every
// loop its own socket on the same port. opts override the server's defaults
// for this listener. Safe for concurrent use, but not from a loop goroutine:
// it waits for the loops (use Loop.Listen there).
func (s *Server) Listen(network, address string, p Protocol, opts ...Option) (*Listener, error) {
	if s.shutting.Load() {
		return nil, ErrServerClosed
	}
	set, err := s.set.with(scopeListen, opts)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		set.reusePort = false
	}
	fd, addr, unixPath, err := listenSocket(network, address, &set)
	if err != nil {
		return nil, err
	}
	ln := newListener(s, nil, network, addr, unixPath, p, set)
	first := s.nextLoop()
	ln.acceptors = []*acceptor{{ln: ln, loop: first, fd: fd}}
	if set.reusePort {
		// Every other loop binds its own socket to the port the first got.
		for _, l := range s.loops {
			if l == first {
				continue
			}
			fd, _, _, err := listenSocket(network, addr.String(), &set)
			if err != nil {
				for _, a := range ln.acceptors {
					closeRaw(a.fd)
				}
				return nil, err
			}
			ln.acceptors = append(ln.acceptors, &acceptor{ln: ln, loop: l, fd: fd})
		}
	}
	ln.open.Store(int32(len(ln.acceptors)))
	var errs []error
	for _, a := range ln.acceptors {
		var regErr error
		if err := onLoop(a.loop, func() { regErr = a.loop.register(a.fd, pollerRead, a) }); err != nil {
			regErr = err
		}
		errs = append(errs, regErr)
	}
	if err := errors.Join(errs...); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen %s %s: %w", network, address, err)
	}
	s.mu.Lock()
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	return ln, nil
}

// Dial connects to address on one of the loops (in turn) and serves the
// connection there with p; it returns once connected, or with the error.
// See Loop.Dial for the networks, the errors and ctx. The returned
// connection belongs to its loop: from this goroutine, only its methods
// that are safe for concurrent use may be called. Safe for concurrent use,
// but not from a loop goroutine: it waits for the dial (use Loop.Dial there).
func (s *Server) Dial(ctx context.Context, network, address string, p Protocol, opts ...Option) (*conn.Conn, error) {
	if s.shutting.Load() {
		return nil, ErrServerClosed
	}
	type result struct {
		c   *conn.Conn
		err error
	}
	ch := make(chan result, 1)
	l := s.nextLoop()
	if err := l.Submit(func() {
		l.Dial(ctx, network, address, p, func(c *conn.Conn, err error) { ch <- result{c, err} }, opts...)
	}); err != nil {
		return nil, err
	}
	r := <-ch
	return r.c, r.err
}

// Shutdown stops the server gracefully:
//
//  1. every listener accepts the connections already waiting in its backlog
//     (they are served, not reset), then closes; new connections are refused;
//  2. on each open connection whose protocol implements ShutdownHandler,
//     OnShutdown runs; dials in progress fail with ErrServerClosed;
//  3. connections with nothing queued and nothing unconsumed close at once,
//     after a last read to answer requests already sent; the others close as
//     soon as they reach that state;
//  4. when ctx is done, whatever is still open closes with ErrServerClosed.
//
// Then the loops stop. Shutdown returns nil when everything drained, or
// ctx's error when the deadline forced the rest closed. Later calls wait for
// the first to finish and return its result. Safe for concurrent use, but
// not from a loop goroutine: it waits for the loops.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.shutting.CompareAndSwap(false, true) {
		<-s.stopped
		return s.stopErr
	}
	s.mu.Lock()
	listeners := s.listeners
	s.mu.Unlock()
	for _, ln := range listeners {
		ln.shutdown()
	}
	for _, l := range s.loops {
		onLoop(l, l.beginDrain)
	}
	var err error
	for _, l := range s.loops {
		select {
		case <-l.drained:
			continue
		case <-ctx.Done():
			err = ctx.Err()
		}
		break
	}
	if err != nil {
		for _, l := range s.loops {
			onLoop(l, l.abortAll)
		}
	}
	for _, l := range s.loops {
		l.Submit(func() { l.stopping = true })
		<-l.done
	}
	close(s.stopWatch)
	<-s.watchDone
	s.stopErr = err
	close(s.stopped)
	return err
}

// Close stops the server at once: listeners close and every connection
// closes with ErrServerClosed. It is Shutdown with an expired deadline.
// Safe for concurrent use, but not from a loop goroutine.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// beginDrain puts the loop in draining mode: its own listeners close, dials
// in progress fail, protocols get OnShutdown, and idle connections close.
func (l *Loop) beginDrain() {
	l.draining = true
	for _, h := range l.handlers {
		switch h := h.(type) {
		case *acceptor:
			h.close(true)
		case *dialer:
			h.fail(ErrServerClosed)
		}
	}
	for _, h := range l.handlers {
		if d, ok := h.(conn.Drainer); ok {
			l.drainConn(d.Conn())
		}
	}
	l.checkDrained()
}

// drainConn tells c's protocol about the shutdown and starts draining c.
func (l *Loop) drainConn(c *conn.Conn) {
	if sh, ok := c.Handler().(ShutdownHandler); ok && !c.Handshaking() {
		l.safely("OnShutdown", func() { sh.OnShutdown(c) })
	}
	if c.Closed() {
		return
	}
	if d, ok := l.handlers[c.Fd()].(conn.Drainer); ok && d.Conn() == c {
		d.Drain()
	}
}

// abortAll closes every connection of the loop with ErrServerClosed.
func (l *Loop) abortAll() {
	for _, h := range l.handlers {
		if d, ok := h.(conn.Drainer); ok {
			d.Abort(ErrServerClosed)
		}
	}
}

// ListenAndServe serves p on one listener until ctx is done, then shuts the
// server down, letting connections drain for up to WithDrainTimeout (30 s by
// default). It returns nil after a complete drain, the drain's deadline
// error if connections had to be closed, or the error that kept it from
// listening.
func ListenAndServe(ctx context.Context, network, address string, p Protocol, opts ...Option) error {
	s, err := NewServer(opts...)
	if err != nil {
		return err
	}
	if _, err := s.Listen(network, address, p); err != nil {
		s.Close()
		return err
	}
	<-ctx.Done()
	dctx, cancel := context.WithTimeout(context.Background(), s.set.drainTimeout)
	defer cancel()
	return s.Shutdown(dctx)
}
