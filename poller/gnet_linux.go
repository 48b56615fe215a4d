//go:build linux && gnet && !poll_opt

// The Linux half of the gnet backend: interest changes on gnet's epoll
// calls, the translation of its raw epoll bits, and the kick eventfd.

package poller

import (
	"fmt"

	"github.com/panjf2000/gnet/v2/pkg/netpoll"
	"golang.org/x/sys/unix"
)

// waitCall names the system call behind gnet's Polling, for its errors.
const waitCall = "epoll_wait"

func checkFD(fd int) error {
	if fd < 0 {
		return fmt.Errorf("%w: fd %d", ErrBadFD, fd)
	}
	return nil
}

// change moves fd's epoll registration from r.armed to in, level-triggered.
// gnet offers Add{Read,Write,ReadWrite}, ModRead, ModReadWrite and Delete;
// there is no ModWrite, so dropping read interest while keeping write takes
// a Delete and an AddWrite. Interest None is a Delete: epoll reports EPOLLHUP
// and EPOLLERR even to an fd that asked for no events (epoll_ctl(2)), which
// would spin a loop that stopped reading.
func (p *gnetPoller) change(fd int, r *gnetReg, in Interest) error {
	pa := &netpoll.PollAttachment{FD: fd}
	from := r.armed
	var err error
	switch {
	case in == from:
	case from == None && in == Read:
		err = p.np.AddRead(pa, false)
	case from == None && in == Write:
		err = p.np.AddWrite(pa, false)
	case from == None && in == ReadWrite:
		err = p.np.AddReadWrite(pa, false)
	case in == None:
		err = p.np.Delete(fd)
	case in == ReadWrite:
		err = p.np.ModReadWrite(pa, false)
	case in == Read:
		err = p.np.ModRead(pa, false)
	default: // Read or ReadWrite to Write
		if err = p.np.Delete(fd); err != nil {
			break
		}
		r.armed = None
		err = p.np.AddWrite(pa, false)
	}
	if err != nil {
		return err
	}
	r.armed = in
	return nil
}

// unregister takes fd out of the epoll set before Close defers close(2).
// close(2) alone would drop the registration only when no duplicate of the
// descriptor is left open (epoll(7), Q6), and the fd stays open until the
// close task runs.
func (p *gnetPoller) unregister(fd int, r *gnetReg) error {
	if r.armed == None {
		return nil
	}
	return p.np.Delete(fd)
}

// dispatch hands one epoll event of an open fd to the Handler. gnet asks for
// EPOLLPRI along with EPOLLIN, which the native backend does not: a peer's
// urgent byte (TCP MSG_OOB, tcp(7); AF_UNIX since Linux 5.15) makes the fd
// report EPOLLPRI, level-triggered, until the byte is read with MSG_OOB or a
// plain read passes it. While no other byte is readable, EPOLLIN is off and
// nothing would ever read, so the loop would spin on EPOLLPRI. The adapter
// then reads the urgent byte out of band and discards it, which leaves the
// stream as the native backend's Handler sees it: a plain read skips an
// urgent byte that was not read out of band.
func (p *gnetPoller) dispatch(fd int, ev netpoll.IOEvent, _ netpoll.IOFlags) error {
	if ev&(unix.EPOLLPRI|unix.EPOLLIN) == unix.EPOLLPRI {
		// The error is not needed: EPOLLPRI means a valid urgent byte waits
		// out of band (tcp_poll), which MSG_OOB reads; with SO_OOBINLINE the
		// byte is in the stream and EPOLLIN comes with EPOLLPRI.
		var b [1]byte
		unix.Recvfrom(fd, b[:], unix.MSG_OOB)
	}
	if ev&(unix.EPOLLIN|unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
		return nil
	}
	p.h.Ready(fd, neutral(ev))
	return nil
}

// openKick opens the kick eventfd, one fd that is both ends. It is
// registered edge-triggered, so every write makes a new event and the
// counter is read back only when it would overflow (see writeEventfd).
func openKick() (r, w int, err error) {
	fd, err := openEventfd()
	if err != nil {
		return -1, -1, err
	}
	return fd, fd, nil
}

// kick writes the kick eventfd.
func (p *gnetPoller) kick() error {
	return writeEventfd(p.kickW)
}

// drainKick does nothing on Linux: the eventfd is edge-triggered.
func (p *gnetPoller) drainKick() {}

func (p *gnetPoller) releaseKick() error {
	return wrapClose("close eventfd", unix.Close(p.kickR))
}
