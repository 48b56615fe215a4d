package conn

import (
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/internal/sock"
)

// SetNoDelay turns Nagle's algorithm off (true) or on for a TCP connection.
// Loop goroutine only.
func (c *Conn) SetNoDelay(on bool) error { return sock.SetNoDelay(c.fd, on) }

// SetKeepAlive sends TCP keep-alive probes after period of silence, every
// period; period <= 0 turns them off. Loop goroutine only.
func (c *Conn) SetKeepAlive(period time.Duration) error { return sock.SetKeepAlive(c.fd, period) }

// SetLinger sets what closing does with unsent bytes, as net.TCPConn's
// SetLinger: sec < 0 (the default) lets the kernel send them in the
// background; sec == 0 discards them and resets the connection. A positive
// value would block the loop in close(2) and returns ErrBlockingLinger.
// Loop goroutine only.
func (c *Conn) SetLinger(sec int) error {
	if sec > 0 {
		return fmt.Errorf("SetLinger(%d): %w", sec, ErrBlockingLinger)
	}
	return sock.SetLinger(c.fd, sec)
}

// SetReadBuffer sets the socket's receive buffer size (SO_RCVBUF).
// Loop goroutine only.
func (c *Conn) SetReadBuffer(bytes int) error { return sock.SetReadBuffer(c.fd, bytes) }

// SetWriteBuffer sets the socket's send buffer size (SO_SNDBUF).
// Loop goroutine only.
func (c *Conn) SetWriteBuffer(bytes int) error { return sock.SetWriteBuffer(c.fd, bytes) }

// Control calls f with the socket's file descriptor, as syscall.RawConn does,
// for options this type has no method for. f must not close the descriptor or
// change its blocking mode. Loop goroutine only.
func (c *Conn) Control(f func(fd uintptr)) error {
	if c.flags&flagClosed != 0 {
		return ErrClosed
	}
	f(uintptr(c.fd))
	return nil
}

// LocalAddr returns the local address (cached after the first call).
// Loop goroutine only.
func (c *Conn) LocalAddr() net.Addr {
	if c.extra == nil || c.extra.local == nil {
		sa, err := unix.Getsockname(c.fd)
		if err != nil {
			return nil
		}
		c.ensureExtra().local = sock.Addr(sa)
	}
	return c.extra.local
}

// RemoteAddr returns the peer's address (cached after the first call).
// Loop goroutine only.
func (c *Conn) RemoteAddr() net.Addr {
	if c.extra == nil || c.extra.remote == nil {
		sa, err := unix.Getpeername(c.fd)
		if err != nil {
			return nil
		}
		c.ensureExtra().remote = sock.Addr(sa)
	}
	return c.extra.remote
}

func (c *Conn) ensureExtra() *connExtra {
	if c.extra == nil {
		c.extra = &connExtra{}
	}
	return c.extra
}
