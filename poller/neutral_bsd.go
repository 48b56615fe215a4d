//go:build darwin || dragonfly || freebsd || netbsd || openbsd

// The translation of a kevent's filter and flags, shared by the kqueue
// backend and the gnet backend, whose callback receives the same two fields.

package poller

import "golang.org/x/sys/unix"

// neutral translates one kevent, given its filter and flags, into an Event.
// EV_EOF on the read filter means the peer shut down its side: a read
// returns the buffered bytes and then EOF, so it is a plain Readable; on the
// write filter it means no more writes are possible.
func neutral(filter, flags int) Event {
	var ev Event
	switch filter {
	case unix.EVFILT_READ:
		ev = Readable
	case unix.EVFILT_WRITE:
		ev = Writable
		if flags&unix.EV_EOF != 0 {
			ev |= Hangup | Readable
		}
	}
	if flags&unix.EV_ERROR != 0 {
		ev |= Failed | Readable | Writable
	}
	return ev
}
