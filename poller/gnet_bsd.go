//go:build (darwin || dragonfly || freebsd) && gnet && !poll_opt

// The kqueue half of the gnet backend: interest changes on gnet's kqueue
// calls, the translation of the filter and flags its callback receives, and
// the kick pipe.
//
// gnet's kqueue poller cannot remove a read filter: its Delete does nothing
// (poller_kqueue_default.go), ModRead deletes only the write filter, and
// the poller's kqueue descriptor is not exported. A level-triggered read
// filter would then report a paused connection's bytes or hang-up on every
// pass, forever. So the read filter is registered edge-triggered (EV_CLEAR)
// and the adapter makes it behave as the contract says:
//
//   - With read interest, level-triggered behaviour is restored by adding the
//     filter again after each read event the Handler saw: EV_ADD on an
//     existing filter updates it and checks the socket again, queueing a new
//     event if bytes (or EOF) remain (kqueue(2); FreeBSD kqueue_register,
//     XNU kevent_register through the filter's touch).
//   - Without read interest the filter stays, but it fires at most once per
//     change on the socket (new bytes, the peer's FIN), never again for the
//     same state, so a paused connection cannot spin the loop; those events
//     are dropped, and the Handler sees nothing.
//   - Read interest coming back adds the filter again, which reports bytes
//     that arrived while it was off.
//
// The write filter stays level-triggered: gnet can add it (AddWrite) and
// delete it (ModRead).

package poller

import (
	"errors"
	"fmt"
	"os"

	"github.com/panjf2000/gnet/v2/pkg/netpoll"
	"golang.org/x/sys/unix"
)

// waitCall names the system call behind gnet's Polling, for its errors.
const waitCall = "kevent"

// checkFD refuses fd 0 as well as negative numbers: gnet registers its own
// wake-up as an EVFILT_USER event with ident 0 and its Polling takes every
// event with ident 0 for that wake-up (poller_kqueue_default.go), so a socket
// that got fd 0 would never see an event.
func checkFD(fd int) error {
	if fd <= 0 {
		return fmt.Errorf("%w: fd %d (gnet's kqueue poller keeps ident 0 for its wake-up)", ErrBadFD, fd)
	}
	return nil
}

// change moves fd's filters from what r has to interest in. See the file
// comment for why Read is armed edge-triggered and never removed.
func (p *gnetPoller) change(fd int, r *gnetReg, in Interest) error {
	pa := &netpoll.PollAttachment{FD: fd}
	switch {
	case in&Write != 0 && r.armed&Write == 0:
		if err := p.np.AddWrite(pa, false); err != nil {
			return err
		}
		r.armed |= Write
	case in&Write == 0 && r.armed&Write != 0:
		// gnet's ModRead is an EV_DELETE of the write filter.
		if err := p.np.ModRead(pa, false); err != nil {
			return err
		}
		r.armed &^= Write
	}
	if in&Read != 0 && r.interest&Read == 0 {
		if err := p.np.AddRead(pa, true); err != nil {
			return err
		}
		r.armed |= Read
	}
	return nil
}

// unregister does nothing before Close defers close(2): close(2) removes
// every filter of the fd (kqueue(2)), and until then the registration is
// closing, so event drops whatever the filters still report.
func (p *gnetPoller) unregister(int, *gnetReg) error { return nil }

// dispatch hands one kevent of an open fd to the Handler. kqueue reports the
// read and write filters of one fd as separate events; with only a callback
// per event there is no end of batch to merge them at, so the Handler may
// see Readable and Writable in two calls.
func (p *gnetPoller) dispatch(fd int, filter netpoll.IOEvent, flags netpoll.IOFlags) error {
	in := p.regs[fd].interest
	switch filter {
	case unix.EVFILT_READ:
		if in&Read == 0 {
			return nil // the edge-triggered read filter outlives read interest
		}
	case unix.EVFILT_WRITE:
		if in&Write == 0 {
			return nil // deleted earlier in this pass
		}
	}
	p.h.Ready(fd, neutral(int(filter), int(flags)))
	if filter != unix.EVFILT_READ {
		return nil
	}
	// Ready may have closed fd or changed its interest (or grown regs).
	if r := &p.regs[fd]; r.state != regOpen || r.interest&Read == 0 {
		return nil
	}
	// Level-triggered behaviour: check the socket again and report it on the
	// next pass if it is still readable. This fails only if fd was closed
	// behind the poller's back (EBADF) or the kernel is out of memory; both
	// stop the poller rather than leave a connection that never hears again.
	return p.np.AddRead(&netpoll.PollAttachment{FD: fd}, true)
}

// openKick opens the kick pipe (see openPipe), with neither end on fd 0.
func openKick() (r, w int, err error) {
	r, w, err = openPipe()
	if err != nil {
		return -1, -1, err
	}
	fds := [2]int{r, w}
	for i, fd := range fds {
		if fd == 0 {
			// Ident 0 is gnet's wake-up (see checkFD): move the pipe off it.
			// The duplicate shares the open file description, so it stays
			// non-blocking; F_DUPFD_CLOEXEC makes it close-on-exec.
			nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 1)
			unix.Close(fd)
			if err != nil {
				unix.Close(fds[1-i])
				return -1, -1, os.NewSyscallError("fcntl", err)
			}
			fds[i] = nfd
		}
	}
	return fds[0], fds[1], nil
}

// kick writes a byte to the kick pipe.
func (p *gnetPoller) kick() error {
	return writePipe(p.kickW)
}

// drainKick empties the kick pipe, so that the next write makes a new event.
func (p *gnetPoller) drainKick() {
	drainPipe(p.kickR)
}

func (p *gnetPoller) releaseKick() error {
	return errors.Join(
		wrapClose("close pipe", unix.Close(p.kickR)),
		wrapClose("close pipe", unix.Close(p.kickW)),
	)
}
