package loop

import (
	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/poller"
)

// WithAcceptFunc replaces the accept system call of a listener, so tests can
// inject the errors a real system produces only under exhaustion (ENFILE,
// ENOBUFS). Test builds only.
func WithAcceptFunc(f func(fd int) (int, unix.Sockaddr, error)) Option {
	return Option{"WithAcceptFunc", scopeListen, func(s *settings) { s.accept = f }}
}

// OpenSpiedConn makes a connection of fd, a connected non-blocking Unix
// stream socket (one end of a socketpair), on l, serves it with p as an
// accepted connection is served, and calls onEvent with every poller event
// dispatched to it before the connection handles the event. Loop goroutine
// only; test builds only.
func (l *Loop) OpenSpiedConn(fd int, p Protocol, onEvent func(poller.Event)) *conn.Conn {
	cfg := l.server.set.conn.Normalized()
	c := l.openConn(fd, p, &cfg, &l.server.set, true)
	if c == nil || c.Closed() {
		return c
	}
	d := l.handlers[fd].(conn.Drainer)
	l.handlers[fd] = eventSpy{d, onEvent}
	return c
}

// eventSpy is a connection's event handler that shows each event to a test
// first.
type eventSpy struct {
	conn.Drainer // the connection's own handler, for the server's shutdown
	onEvent      func(poller.Event)
}

func (s eventSpy) HandleEvent(ev poller.Event) {
	s.onEvent(ev)
	s.Drainer.(conn.EventHandler).HandleEvent(ev)
}
