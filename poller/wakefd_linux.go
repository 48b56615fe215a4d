//go:build linux

// The wake-up eventfd shared by the epoll backend (Wake) and the gnet
// backend (kick): how it is opened and written.

package poller

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// openEventfd opens a non-blocking, close-on-exec eventfd(2) with a zero
// counter. The caller registers it edge-triggered, so every write makes a
// new event and the counter is read back only when it would overflow (see
// writeEventfd).
func openEventfd() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("eventfd", err)
	}
	return fd, nil
}

// writeEventfd adds one to the counter of fd, an eventfd from openEventfd
// registered edge-triggered, retrying on EINTR.
func writeEventfd(fd int) error {
	var one [8]byte // the eventfd counter increment, in host byte order
	binary.NativeEndian.PutUint64(one[:], 1)
	for {
		_, err := unix.Write(fd, one[:])
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			// The counter is about to overflow (eventfd(2)): reading resets
			// it, and the edge-triggered registration still reports the write
			// that follows.
			var buf [8]byte
			unix.Read(fd, buf[:])
			continue
		}
		return os.NewSyscallError("write eventfd", err)
	}
}
