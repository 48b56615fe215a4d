// The translation of epoll's event bits, shared by the epoll backend and the
// gnet backend, which hands its callback the same raw bits.

package poller

import "golang.org/x/sys/unix"

// neutral translates epoll's event bits into an Event.
func neutral(e uint32) Event {
	var ev Event
	if e&unix.EPOLLIN != 0 {
		ev |= Readable
	}
	if e&unix.EPOLLOUT != 0 {
		ev |= Writable
	}
	if e&unix.EPOLLHUP != 0 {
		ev |= Hangup | Readable | Writable
	}
	if e&unix.EPOLLERR != 0 {
		ev |= Failed | Readable | Writable
	}
	return ev
}
