package sock

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// AcceptInherits reports whether accepted sockets inherit TCP_NODELAY, the
// keep-alive settings and the buffer sizes of their listening socket, so
// they need not be set on each (Linux copies the listener's socket when it
// creates the connection's).
const AcceptInherits = true

// Accept accepts a connection as a non-blocking, close-on-exec descriptor.
func Accept(fd int) (int, unix.Sockaddr, error) {
	for {
		nfd, sa, err := unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		return nfd, sa, err
	}
}

// Socket opens a non-blocking, close-on-exec stream socket.
func Socket(family int) (int, error) {
	return unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// read, write and writev make raw system calls: on a non-blocking socket
// they never wait, so the runtime need not be told a goroutine entered the
// kernel (entersyscall/exitsyscall, which cost about a tenth of a loopback
// echo's server CPU). sendfile may wait for the disk and keeps the ordinary
// call; so does everything else here.

func read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func write(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func writev(fd int, iov []unix.Iovec) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// TCPKeepIdle is the TCP option that holds the keep-alive idle time.
const TCPKeepIdle = unix.TCP_KEEPIDLE

func setKeepAlivePeriod(fd, secs int) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, TCPKeepIdle, secs); err != nil {
		return err
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
}
