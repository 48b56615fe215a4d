//go:build darwin || dragonfly || freebsd || netbsd || openbsd

// The wake-up pipe shared by the kqueue backend (Wake) and the gnet backend
// (kick): how it is opened, written and drained. The gnet backend does not
// build on NetBSD and OpenBSD (gnet_nowakeup.go); the kqueue backend uses
// these there.

package poller

import (
	"os"

	"golang.org/x/sys/unix"
)

// openPipe opens a pipe whose two ends are non-blocking and close-on-exec.
// The caller registers the read end edge-triggered (EV_CLEAR) and drains it
// with drainPipe on every event, so every write after a drain makes a new
// event. On failure it closes both ends.
func openPipe() (r, w int, err error) {
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		return -1, -1, os.NewSyscallError("pipe", err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return -1, -1, os.NewSyscallError("fcntl", err)
		}
	}
	return fds[0], fds[1], nil
}

// writePipe writes one byte to w, the write end of a pipe from openPipe,
// retrying on EINTR.
func writePipe(w int) error {
	for {
		_, err := unix.Write(w, []byte{1})
		switch err {
		case nil, unix.EAGAIN:
			// EAGAIN: the pipe is full, so an event for its read end is
			// already pending (the read end is drained on every event).
			return nil
		case unix.EINTR:
			continue
		}
		return os.NewSyscallError("write pipe", err)
	}
}

// drainPipe reads r, the read end of a pipe from openPipe, until it is
// empty, so that the next write makes a new event.
func drainPipe(r int) {
	var buf [64]byte
	for {
		n, err := unix.Read(r, buf[:])
		if n <= 0 || err != nil {
			return
		}
	}
}
