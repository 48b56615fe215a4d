package loop

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/internal/sock"
	"github.com/reactorkit/reactor/poller"
)

// Dial connects to address without blocking the loop and serves the
// connection with p on this loop. network is "tcp", "tcp4", "tcp6" or
// "unix". A host name is resolved on another goroutine; each of its
// addresses is tried in turn until one connects. The connect timeout
// (WithConnectTimeout) bounds the whole attempt, and ctx can cancel it.
//
// done, if not nil, runs once on this loop: with the connection, after
// p.OnOpen, when it connected (and, with WithTLS, finished its handshake);
// with a nil connection and the error otherwise. The error is a *net.OpError whose cause errors.Is matches:
// syscall.ECONNREFUSED, conn.ErrConnectTimeout, ctx's error,
// ErrServerClosed. Loop goroutine only.
func (l *Loop) Dial(ctx context.Context, network, address string, p Protocol, done func(*conn.Conn, error), opts ...Option) {
	d := &dialer{loop: l, network: network, address: address, p: p, done: done, fd: -1}
	set, err := l.server.set.with(scopeDial, opts)
	if err != nil {
		d.fail(err)
		return
	}
	if l.server.shutting.Load() {
		d.fail(ErrServerClosed)
		return
	}
	d.set = set
	cfg := set.conn.Normalized()
	if cfg.TLS != nil && cfg.TLS.ServerName == "" && !cfg.TLS.InsecureSkipVerify {
		// Verify the certificate against the name dialed, as tls.Dial does.
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			host = address
		}
		cfg.TLS = cfg.TLS.Clone()
		cfg.TLS.ServerName = host
	}
	d.cfg = &cfg
	d.start(ctx)
}

// dialer is one Dial in progress. Loop goroutine only.
type dialer struct {
	loop    *Loop
	network string
	address string
	p       Protocol
	done    func(*conn.Conn, error)
	set     settings
	cfg     *conn.Config

	addrs    []unix.Sockaddr // addresses left to try
	fd       int             // the socket connecting now; -1 between attempts
	lastErr  error           // the error of the last failed attempt
	timer    *conn.Timer     // the connect timeout
	stopCtx  func() bool     // stops the ctx watch
	finished bool            // done has been called
}

func (d *dialer) start(ctx context.Context) {
	if err := ctx.Err(); err != nil {
		d.fail(err)
		return
	}
	if d.set.connectTimeout > 0 {
		d.timer = d.loop.AfterFunc(d.set.connectTimeout, func() { d.fail(conn.ErrConnectTimeout) })
	}
	d.stopCtx = context.AfterFunc(ctx, func() {
		d.loop.Submit(func() { d.fail(ctx.Err()) })
	})
	switch d.network {
	case "unix":
		d.addrs = []unix.Sockaddr{&unix.SockaddrUnix{Name: d.address}}
		d.next()
		return
	case "tcp", "tcp4", "tcp6":
	default:
		d.fail(net.UnknownNetworkError(d.network))
		return
	}
	host, portStr, err := net.SplitHostPort(d.address)
	if err != nil {
		d.fail(err)
		return
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		port, err = net.LookupPort(d.network, portStr)
		if err != nil {
			d.fail(err)
			return
		}
	}
	if host == "" {
		host = "localhost" // net.Dial's "the local system"
	}
	if ip := net.ParseIP(host); ip != nil {
		d.resolved([]net.IPAddr{{IP: ip}}, port, nil)
		return
	}
	// Resolving may block (DNS, /etc/hosts, nsswitch): do it off the loop.
	go func() {
		ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if d.loop.Submit(func() { d.resolved(ips, port, err) }) != nil {
			return // the loop stopped; nothing is left to report to
		}
	}()
}

// resolved turns the looked-up addresses into socket addresses and starts
// connecting to the first.
func (d *dialer) resolved(ips []net.IPAddr, port int, err error) {
	if d.finished {
		return
	}
	if err != nil {
		d.fail(err)
		return
	}
	for _, ip := range ips {
		family := sock.Family(ip.IP)
		if (d.network == "tcp4" && family != unix.AF_INET) || (d.network == "tcp6" && family != unix.AF_INET6) {
			continue
		}
		sa, err := sock.Sockaddr(family, ip.IP, port, ip.Zone)
		if err == nil {
			d.addrs = append(d.addrs, sa)
		}
	}
	if len(d.addrs) == 0 {
		d.fail(&net.AddrError{Err: "no suitable address found", Addr: d.address})
		return
	}
	d.next()
}

// next tries the next address, or fails with the last error.
func (d *dialer) next() {
	for len(d.addrs) > 0 && !d.finished {
		sa := d.addrs[0]
		d.addrs = d.addrs[1:]
		family := unix.AF_UNIX
		switch sa.(type) {
		case *unix.SockaddrInet4:
			family = unix.AF_INET
		case *unix.SockaddrInet6:
			family = unix.AF_INET6
		}
		fd, err := sock.Socket(family)
		if err != nil {
			d.lastErr = os.NewSyscallError("socket", err)
			continue
		}
		if la := d.set.localAddr; la != nil && family != unix.AF_UNIX {
			lsa, err := sock.Sockaddr(family, la.IP, la.Port, la.Zone)
			if err == nil {
				err = os.NewSyscallError("bind", unix.Bind(fd, lsa))
			}
			if err != nil {
				unix.Close(fd)
				d.lastErr = err
				continue
			}
		}
		err = unix.Connect(fd, sa)
		switch err {
		case nil:
			d.fd = fd
			d.connected()
			return
		case unix.EINPROGRESS, unix.EINTR:
			// connect(2): poll for writability, then read SO_ERROR.
			if err := d.loop.register(fd, poller.Write, d); err != nil {
				unix.Close(fd)
				d.lastErr = err
				continue
			}
			d.fd = fd
			return
		default:
			unix.Close(fd)
			d.lastErr = os.NewSyscallError("connect", err)
		}
	}
	if !d.finished {
		d.fail(d.lastErr)
	}
}

// HandleEvent implements conn.EventHandler: the connect finished.
func (d *dialer) HandleEvent(poller.Event) {
	if d.finished || d.fd < 0 {
		return
	}
	if err := sock.SocketError(d.fd); err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) && errno == unix.EINPROGRESS {
			return // spurious wake-up; still connecting
		}
		d.loop.closeFD(d.fd)
		d.fd = -1
		d.lastErr = os.NewSyscallError("connect", errnoOf(err))
		d.next()
		return
	}
	// A wake-up can be spurious: confirm the socket has a peer before taking
	// it for connected, as Go's net does (net/fd_unix.go; golang.org/issue/14548).
	if _, err := unix.Getpeername(d.fd); err != nil {
		return
	}
	d.connected()
}

func errnoOf(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// connected turns the socket into a connection on this loop.
func (d *dialer) connected() {
	d.finished = true
	d.stop()
	isUnix := d.network == "unix"
	if !isUnix {
		applySocketOptions(d.loop, d.fd, &d.set)
	}
	d.loop.connOpened(true)
	ready := func(c *conn.Conn, err error) {
		if err != nil {
			err = d.opError(err)
		}
		d.report(c, err)
	}
	if _, err := conn.New(d.fd, (*owner)(d.loop), d.p, d.cfg, conn.Setup{Unix: isUnix, Dialed: true, Ready: ready}); err != nil {
		d.loop.closeFD(d.fd)
		d.loop.connClosed()
		d.report(nil, d.opError(err))
	}
}

// fail ends the dial with err.
func (d *dialer) fail(err error) {
	if d.finished {
		return
	}
	d.finished = true
	d.stop()
	if d.fd >= 0 {
		d.loop.closeFD(d.fd)
		d.fd = -1
	}
	d.report(nil, d.opError(err))
}

func (d *dialer) stop() {
	if d.timer != nil {
		d.timer.Stop()
	}
	if d.stopCtx != nil {
		d.stopCtx()
	}
}

func (d *dialer) report(c *conn.Conn, err error) {
	if d.done != nil {
		d.done(c, err)
	}
}

func (d *dialer) opError(err error) error {
	if err == nil {
		err = errors.New("no address to dial")
	}
	return &net.OpError{Op: "dial", Net: d.network, Addr: addrString{d.network, d.address}, Err: err}
}

// addrString is a dial's address as the caller wrote it, for error messages.
type addrString struct{ network, address string }

func (a addrString) Network() string { return a.network }
func (a addrString) String() string  { return a.address }
