//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

// Package sock holds the raw socket system calls the runtime makes on
// non-blocking descriptors: reads and writes that retry EINTR, writev over a
// caller's iovec array, accept, connect, socket options and address
// conversion. Platform differences live in sock_linux.go and sock_bsd.go.
//
// Functions here return raw errno values (unix.EAGAIN is control flow, not
// an error); the caller wraps them once, with the system call's name.
package sock

import (
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// MaxRW caps the bytes handed to one read or write system call, as Go's
// internal/poll does (maxRW): some kernels reject or split larger requests,
// and a bounded call keeps one connection from monopolising its loop.
const MaxRW = 1 << 30

// IovMax caps the buffers handed to one writev. POSIX allows IOV_MAX (1024
// on Linux and the BSDs); a smaller array keeps the iovec scratch space on
// the stack, and the runtime's outbound chunks are large enough that 64 of
// them exceed any socket send buffer.
const IovMax = 64

// Read reads into p, retrying EINTR. It returns (0, nil) at EOF.
func Read(fd int, p []byte) (int, error) {
	if len(p) > MaxRW {
		p = p[:MaxRW]
	}
	for {
		n, err := read(fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// Write writes p, retrying EINTR; it may write less than len(p).
func Write(fd int, p []byte) (int, error) {
	if len(p) > MaxRW {
		p = p[:MaxRW]
	}
	for {
		n, err := write(fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// Writev writes the buffers described by iov (at most IovMax of them) with
// one writev, retrying EINTR; it may write less than their total.
func Writev(fd int, iov []unix.Iovec) (int, error) {
	if len(iov) > IovMax {
		iov = iov[:IovMax]
	}
	for {
		n, err := writev(fd, iov)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// Shutdown shuts down the write side (how is unix.SHUT_WR) or both sides.
func Shutdown(fd, how int) error {
	return os.NewSyscallError("shutdown", unix.Shutdown(fd, how))
}

// SetNoDelay sets TCP_NODELAY.
func SetNoDelay(fd int, on bool) error {
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, boolint(on)))
}

// SetLinger sets SO_LINGER: sec < 0 turns it off (close(2) returns at once
// and the kernel sends what is queued); sec == 0 makes close(2) reset the
// connection. The caller rejects positive values, which would block.
func SetLinger(fd, sec int) error {
	l := unix.Linger{}
	if sec >= 0 {
		l.Onoff, l.Linger = 1, int32(sec)
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &l))
}

// SetReadBuffer sets SO_RCVBUF.
func SetReadBuffer(fd, bytes int) error {
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, bytes))
}

// SetWriteBuffer sets SO_SNDBUF.
func SetWriteBuffer(fd, bytes int) error {
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, bytes))
}

// SetKeepAlive turns TCP keep-alive probes on with the given idle time and
// interval, or off when period <= 0.
func SetKeepAlive(fd int, period time.Duration) error {
	if period <= 0 {
		return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0))
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	secs := int((period + time.Second - 1) / time.Second)
	return os.NewSyscallError("setsockopt", setKeepAlivePeriod(fd, secs))
}

// SocketError returns the pending error of fd (SO_ERROR), nil if none.
func SocketError(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return os.NewSyscallError("getsockopt", err)
	}
	if v != 0 {
		return unix.Errno(v)
	}
	return nil
}

func boolint(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Addr converts a socket address to a net.Addr; network is "tcp" or
// "unix". It returns nil for an unknown address family.
func Addr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		ip := make(net.IP, net.IPv6len)
		copy(ip, sa.Addr[:])
		zone := ""
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				zone = ifi.Name
			}
		}
		return &net.TCPAddr{IP: ip, Port: sa.Port, Zone: zone}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

// Sockaddr converts a TCP address to a socket address of the given family
// (unix.AF_INET or unix.AF_INET6).
func Sockaddr(family int, ip net.IP, port int, zone string) (unix.Sockaddr, error) {
	switch family {
	case unix.AF_INET:
		ip4 := ip.To4()
		if ip4 == nil && len(ip) != 0 {
			return nil, &net.AddrError{Err: "non-IPv4 address", Addr: ip.String()}
		}
		sa := &unix.SockaddrInet4{Port: port}
		copy(sa.Addr[:], ip4)
		return sa, nil
	case unix.AF_INET6:
		sa := &unix.SockaddrInet6{Port: port}
		if len(ip) == 0 {
			ip = net.IPv6zero
		}
		copy(sa.Addr[:], ip.To16())
		if zone != "" {
			if ifi, err := net.InterfaceByName(zone); err == nil {
				sa.ZoneId = uint32(ifi.Index)
			}
		}
		return sa, nil
	}
	return nil, &net.AddrError{Err: "unknown address family", Addr: ip.String()}
}

// Family returns the address family to dial ip with.
func Family(ip net.IP) int {
	if ip.To4() != nil {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// Sendfile sends up to count bytes of file descriptor in from *offset to the
// socket fd and advances *offset by what it sent, retrying EINTR. (Linux's
// sendfile(2) advances an offset it is given; the BSD and macOS calls do not,
// so the offset handed to the system call is a copy on every platform.)
func Sendfile(fd, in int, offset *int64, count int) (int, error) {
	for {
		off := *offset
		n, err := unix.Sendfile(fd, in, &off, count)
		if n > 0 {
			*offset += int64(n)
		}
		switch {
		case err == unix.EINTR && n == 0:
			continue
		case n > 0:
			return n, nil // BSD reports partial progress with EAGAIN or EINTR
		case err != nil:
			return 0, err
		}
		return 0, nil
	}
}
