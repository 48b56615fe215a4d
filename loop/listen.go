package loop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/internal/sock"
	"github.com/reactorkit/reactor/poller"
)

// Listener is a listening socket (or, with WithReusePort, one per loop)
// whose connections a Protocol serves.
type Listener struct {
	network string       // "tcp", "tcp4", "tcp6" or "unix"; immutable
	addr    net.Addr     // the bound address, port resolved; immutable
	p       Protocol     // immutable
	set     settings     // immutable
	cfg     *conn.Config // shared by its connections; immutable
	server  *Server      // immutable
	// loop is the only loop of a listener made by Loop.Listen, nil for one
	// made by Server.Listen; immutable.
	loop      *Loop
	acceptors []*acceptor // one per socket; immutable after listen
	unixPath  string      // the socket file to remove at close; immutable

	rr       atomic.Uint32 // round-robin position
	closing  atomic.Bool   // Close or shutdown began
	open     atomic.Int32  // acceptors not yet closed
	unlinked sync.Once
}

// Addr returns the address the listener is bound to, with the port the
// kernel chose when the address asked for port 0. Safe for concurrent use.
func (ln *Listener) Addr() net.Addr { return ln.addr }

// Close stops accepting. Connections already accepted stay open.
//
// For a listener made by Server.Listen, Close is goroutine-safe and returns
// at once; the sockets close on their loops right after. For one made by
// Loop.Listen, Close must be called on that loop's goroutine and closes the
// socket before it returns.
func (ln *Listener) Close() error {
	if !ln.closing.CompareAndSwap(false, true) {
		return nil
	}
	if ln.loop != nil {
		ln.acceptors[0].close(false)
		return nil
	}
	var errs []error
	for _, a := range ln.acceptors {
		errs = append(errs, a.loop.Submit(func() { a.close(false) }))
	}
	return errors.Join(errs...)
}

// shutdown closes every acceptor of a server listener after accepting what
// waits in their backlogs, and returns when all are closed.
func (ln *Listener) shutdown() {
	ln.closing.Store(true)
	var wg sync.WaitGroup
	for _, a := range ln.acceptors {
		wg.Add(1)
		if a.loop.Submit(func() { a.close(true); wg.Done() }) != nil {
			wg.Done()
		}
	}
	wg.Wait()
}

// pick chooses the loop for a connection accepted on loop from.
func (ln *Listener) pick(from *Loop) *Loop {
	if ln.loop != nil || ln.set.reusePort {
		return from
	}
	loops := ln.server.loops
	if len(loops) == 1 {
		return loops[0]
	}
	if ln.set.balance == LeastConnections {
		best := loops[0]
		for _, l := range loops[1:] {
			if l.open.Load() < best.open.Load() {
				best = l
			}
		}
		return best
	}
	return loops[int(ln.rr.Add(1))%len(loops)]
}

// acceptor is one listening socket on one loop.
type acceptor struct {
	ln   *Listener
	loop *Loop // the loop the socket is registered on; immutable
	fd   int   // immutable

	// Loop goroutine only.
	paused  bool          // accepting stopped after EMFILE and the like
	backoff time.Duration // the current wait before retrying
	retry   *conn.Timer   // retries accepting after backoff
	closed  bool
}

// Backoff bounds for accept errors that mean "out of descriptors or
// memory": the listener stops asking for events for a while instead of
// spinning on a backlog it cannot accept.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = 200 * time.Millisecond
	// acceptBatch bounds the connections accepted per readiness event, so a
	// connection storm cannot starve the loop's other sockets.
	acceptBatch = 64
)

// HandleEvent implements conn.EventHandler: accept what is waiting.
func (a *acceptor) HandleEvent(poller.Event) {
	a.acceptSome(acceptBatch)
}

// acceptSome accepts up to n connections (n < 0: until the backlog is empty)
// and hands each to its loop.
func (a *acceptor) acceptSome(n int) {
	accept := sock.Accept
	if a.ln.set.accept != nil {
		accept = a.ln.set.accept
	}
	for i := 0; n < 0 || i < n; i++ {
		fd, _, err := accept(a.fd)
		switch err {
		case nil:
		case unix.EAGAIN:
			return
		case unix.ECONNABORTED, unix.EPROTO:
			continue // the peer gave up while waiting in the backlog
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			a.pause(err)
			return
		default:
			a.loop.logger.Error("reactor: accept failed", "addr", a.ln.addr, "err", os.NewSyscallError("accept", err))
			return
		}
		a.backoff = 0
		a.dispatch(fd)
		if a.closed {
			return // OnOpen closed the listener (an FTP passive port takes one connection)
		}
	}
}

// dispatch hands an accepted fd to the loop that will serve it.
func (a *acceptor) dispatch(fd int) {
	target := a.ln.pick(a.loop)
	if target == a.loop {
		target.openConn(fd, a.ln.p, a.ln.cfg, &a.ln.set, a.ln.network == "unix")
		return
	}
	ln := a.ln
	if err := target.Submit(func() { target.openConn(fd, ln.p, ln.cfg, &ln.set, ln.network == "unix") }); err != nil {
		unix.Close(fd)
	}
}

// pause stops accepting for the current backoff after an error that means
// resources ran out. Accepting resumes when the backoff passes or, sooner,
// when a connection of this loop closes and frees a descriptor.
func (a *acceptor) pause(err error) {
	if a.paused || a.closed {
		return
	}
	if a.backoff == 0 {
		a.loop.logger.Warn("reactor: accept is out of resources; backing off and serving open connections",
			"addr", a.ln.addr, "err", os.NewSyscallError("accept", err))
	}
	a.backoff = min(max(2*a.backoff, minAcceptBackoff), maxAcceptBackoff)
	if err := a.loop.poller.Modify(a.fd, poller.None); err != nil {
		a.loop.logger.Error("reactor: pausing accept", "err", err)
	}
	a.paused = true
	a.loop.paused = append(a.loop.paused, a)
	if a.retry == nil {
		a.retry = a.loop.AfterFunc(a.backoff, a.resume)
	} else {
		a.loop.Reset(a.retry, a.backoff)
	}
}

// resume starts accepting again after a pause.
func (a *acceptor) resume() {
	if !a.paused || a.closed {
		return
	}
	a.paused = false
	a.retry.Stop()
	for i, p := range a.loop.paused {
		if p == a {
			a.loop.paused = append(a.loop.paused[:i], a.loop.paused[i+1:]...)
			break
		}
	}
	if err := a.loop.poller.Modify(a.fd, poller.Read); err != nil {
		a.loop.logger.Error("reactor: resuming accept", "err", err)
	}
}

// close closes the socket, first accepting (and serving) every connection
// already in its backlog when drain is set.
func (a *acceptor) close(drain bool) {
	if a.closed {
		return
	}
	if drain && !a.paused {
		a.acceptSome(-1)
	}
	a.closed = true
	if a.retry != nil {
		a.retry.Stop()
	}
	if err := a.loop.closeFD(a.fd); err != nil {
		a.loop.logger.Warn("reactor: closing listener", "addr", a.ln.addr, "err", err)
	}
	if a.ln.open.Add(-1) == 0 && a.ln.unixPath != "" {
		a.ln.unlinked.Do(func() { os.Remove(a.ln.unixPath) })
	}
}

// openConn makes a connection of fd on this loop and runs OnOpen.
func (l *Loop) openConn(fd int, p Protocol, cfg *conn.Config, set *settings, isUnix bool) *conn.Conn {
	if !isUnix && !sock.AcceptInherits {
		applySocketOptions(l, fd, set)
	}
	l.connOpened(false)
	c, err := conn.New(fd, (*owner)(l), p, cfg, conn.Setup{Unix: isUnix})
	if err != nil {
		l.logger.Error("reactor: registering connection", "fd", fd, "err", err)
		unix.Close(fd)
		l.connClosed()
		return nil
	}
	if l.draining && !c.Closed() {
		l.drainConn(c)
	}
	return c
}

// applySocketOptions sets the options every new TCP connection gets. A
// failure is logged, not fatal: the connection works without them.
func applySocketOptions(l *Loop, fd int, set *settings) {
	if err := socketOptions(fd, set); err != nil {
		l.logger.Warn("reactor: setting socket options", "fd", fd, "err", err)
	}
}

// socketOptions sets TCP_NODELAY, keep-alive and the buffer sizes on fd.
func socketOptions(fd int, set *settings) error {
	var errs []error
	if set.noDelay {
		errs = append(errs, sock.SetNoDelay(fd, true))
	}
	if set.keepAlive > 0 {
		errs = append(errs, sock.SetKeepAlive(fd, set.keepAlive))
	}
	if set.rcvBuf > 0 {
		errs = append(errs, sock.SetReadBuffer(fd, set.rcvBuf))
	}
	if set.sndBuf > 0 {
		errs = append(errs, sock.SetWriteBuffer(fd, set.sndBuf))
	}
	return errors.Join(errs...)
}

// listenSocket opens a listening socket with package net's address handling
// (":port" on both IPv4 and IPv6, host names, Unix paths), then keeps a
// close-on-exec duplicate of its descriptor for the loop and closes net's.
// The duplicate shares the socket and its O_NONBLOCK flag.
func listenSocket(network, address string, set *settings) (fd int, addr net.Addr, unixPath string, err error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return -1, nil, "", net.UnknownNetworkError(network)
	}
	var ctlErr error
	lc := net.ListenConfig{
		KeepAlive: -1,
		Control: func(network, address string, rc syscall.RawConn) error {
			err := rc.Control(func(fd uintptr) {
				if network == "unix" {
					return
				}
				if set.reusePort {
					ctlErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
				}
				if ctlErr == nil {
					ctlErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, boolInt(set.reuseAddr))
				}
				if ctlErr == nil && sock.AcceptInherits {
					// Accepted sockets inherit these: set once, not per connection.
					ctlErr = socketOptions(int(fd), set)
				}
			})
			if ctlErr != nil {
				return os.NewSyscallError("setsockopt", ctlErr)
			}
			return err
		},
	}
	nl, err := lc.Listen(context.Background(), network, address)
	if err != nil {
		return -1, nil, "", err
	}
	defer nl.Close()
	var rc syscall.RawConn
	switch l := nl.(type) {
	case *net.TCPListener:
		rc, err = l.SyscallConn()
	case *net.UnixListener:
		l.SetUnlinkOnClose(false)
		unixPath = address
		rc, err = l.SyscallConn()
	}
	if err != nil {
		return -1, nil, "", err
	}
	fd = -1
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, nil, "", err
	}
	if dupErr != nil {
		if unixPath != "" {
			os.Remove(unixPath)
		}
		return -1, nil, "", os.NewSyscallError("fcntl", dupErr)
	}
	return fd, nl.Addr(), unixPath, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// newListener builds a Listener around already-open sockets.
func newListener(s *Server, l *Loop, network string, addr net.Addr, unixPath string, p Protocol, set settings) *Listener {
	cfg := set.conn.Normalized()
	return &Listener{network: network, addr: addr, p: p, set: set, cfg: &cfg, server: s, loop: l, unixPath: unixPath}
}

// Listen opens a listener on this loop whose connections stay on this loop,
// for a protocol's auxiliary sockets (an FTP passive data port). address
// should be an IP literal: a host name would be resolved here, blocking the
// loop. Loop goroutine only.
func (l *Loop) Listen(network, address string, p Protocol, opts ...Option) (*Listener, error) {
	if l.server.shutting.Load() {
		return nil, ErrServerClosed
	}
	set, err := l.server.set.with(scopeListen, opts)
	if err != nil {
		return nil, err
	}
	set.reusePort = false
	fd, addr, unixPath, err := listenSocket(network, address, &set)
	if err != nil {
		return nil, err
	}
	ln := newListener(l.server, l, network, addr, unixPath, p, set)
	a := &acceptor{ln: ln, loop: l, fd: fd}
	ln.acceptors = []*acceptor{a}
	ln.open.Store(1)
	if err := l.register(fd, poller.Read, a); err != nil {
		unix.Close(fd)
		if unixPath != "" {
			os.Remove(unixPath)
		}
		return nil, fmt.Errorf("listen %s %s: %w", network, address, err)
	}
	return ln, nil
}

const pollerRead = poller.Read

// closeRaw closes a socket that was never registered.
func closeRaw(fd int) { unix.Close(fd) }
