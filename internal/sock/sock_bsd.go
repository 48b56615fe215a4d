//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package sock

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// AcceptInherits reports whether accepted sockets inherit their listening
// socket's options. The BSDs copy most of them too, but not uniformly across
// the systems and versions, so the options are set on each connection.
const AcceptInherits = false

// Accept accepts a connection as a non-blocking, close-on-exec descriptor.
// macOS has no accept4, so the flags are set after the call; the window in
// which a concurrent fork could inherit the fd is accepted, as Go's net does
// on these systems (sys_cloexec.go).
func Accept(fd int) (int, unix.Sockaddr, error) {
	for {
		nfd, sa, err := unix.Accept(fd)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, nil, err
		}
		unix.CloseOnExec(nfd)
		if err := unix.SetNonblock(nfd, true); err != nil {
			unix.Close(nfd)
			return -1, nil, err
		}
		return nfd, sa, nil
	}
}

// Socket opens a non-blocking, close-on-exec stream socket.
func Socket(family int) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// read and write use the ordinary calls here: on macOS and the BSDs x/sys
// goes through libc, where a raw call saves nothing.
func read(fd int, p []byte) (int, error)  { return unix.Read(fd, p) }
func write(fd int, p []byte) (int, error) { return unix.Write(fd, p) }

func writev(fd int, iov []unix.Iovec) (int, error) {
	n, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
