//go:build (darwin || dragonfly || freebsd || netbsd || openbsd) && !gnet

// The default BSD and macOS backend: kqueue(2) with one EVFILT_READ and one
// EVFILT_WRITE filter per fd, woken through a non-blocking pipe.

package poller

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Backend names the poller compiled into this program.
const Backend = "kqueue"

// maxEvents caps the events taken from one kevent call, so one pass does a
// bounded amount of work before the loop runs its tasks and timers again.
const maxEvents = 256

// kqueue is the kqueue(2) backend.
type kqueue struct {
	kq    int // the kqueue; immutable after New
	wakeR int // read end of the wake-up pipe, registered with EV_CLEAR
	wakeW int // write end of the wake-up pipe

	// awake is set by the first Wake after a Woken began and cleared by the
	// loop just before it calls Woken; only the Wake that sets it writes to
	// the pipe.
	awake atomic.Bool

	// regs holds the current registration of each fd number, nil when the
	// fd is not registered. The kernel event's udata identifies the
	// registration it was made for (see udata_*.go), so an event of a closed
	// registration is told apart from one of a reused fd. Loop goroutine only.
	regs []*kreg

	lastGen uint64 // the generation given to the newest registration; loop goroutine only

	events [maxEvents]unix.Kevent_t // kevent's output; loop goroutine only
}

// kreg is one registration of an fd.
type kreg struct {
	gen      uint64   // distinguishes registrations of one fd number
	interest Interest // current interest
}

// New opens a kqueue poller with its wake-up pipe.
func New() (Poller, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, os.NewSyscallError("kqueue", err)
	}
	unix.CloseOnExec(kq)
	wakeR, wakeW, err := openPipe()
	if err != nil {
		unix.Close(kq)
		return nil, err
	}
	p := &kqueue{kq: kq, wakeR: wakeR, wakeW: wakeW}
	var ch [1]unix.Kevent_t
	unix.SetKevent(&ch[0], p.wakeR, unix.EVFILT_READ, unix.EV_ADD|unix.EV_CLEAR)
	if _, err := unix.Kevent(kq, ch[:], nil, nil); err != nil {
		p.Release()
		return nil, os.NewSyscallError("kevent add", err)
	}
	return p, nil
}

// change applies the filter changes that move r from interest from to to.
func (p *kqueue) change(fd int, r *kreg, from, to Interest) error {
	var ch [2]unix.Kevent_t
	n := 0
	for _, f := range []struct {
		bit    Interest
		filter int
	}{{Read, unix.EVFILT_READ}, {Write, unix.EVFILT_WRITE}} {
		switch {
		case to&f.bit != 0 && from&f.bit == 0:
			unix.SetKevent(&ch[n], fd, f.filter, unix.EV_ADD|unix.EV_ENABLE)
		case to&f.bit == 0 && from&f.bit != 0:
			unix.SetKevent(&ch[n], fd, f.filter, unix.EV_DELETE)
		default:
			continue
		}
		setUdata(&ch[n], r)
		n++
	}
	if n == 0 {
		return nil
	}
	if _, err := unix.Kevent(p.kq, ch[:n], nil, nil); err != nil {
		return os.NewSyscallError("kevent", err)
	}
	return nil
}

// Add implements Poller.
func (p *kqueue) Add(fd int, in Interest) error {
	if fd < 0 {
		return fmt.Errorf("%w: fd %d", ErrBadFD, fd)
	}
	if fd >= len(p.regs) {
		regs := make([]*kreg, max(2*len(p.regs), fd+1, 64))
		copy(regs, p.regs)
		p.regs = regs
	}
	if p.regs[fd] != nil {
		return fmt.Errorf("%w: fd %d", ErrRegistered, fd)
	}
	p.lastGen++
	r := &kreg{gen: p.lastGen}
	if err := p.change(fd, r, None, in); err != nil {
		return err
	}
	r.interest = in
	p.regs[fd] = r
	return nil
}

// Modify implements Poller.
func (p *kqueue) Modify(fd int, in Interest) error {
	if fd < 0 || fd >= len(p.regs) || p.regs[fd] == nil {
		return fmt.Errorf("%w: fd %d", ErrNotRegistered, fd)
	}
	r := p.regs[fd]
	if err := p.change(fd, r, r.interest, in); err != nil {
		return err
	}
	r.interest = in
	return nil
}

// Close implements Poller. close(2) removes every kevent of the descriptor
// (kqueue(2)), so no EV_DELETE is needed.
func (p *kqueue) Close(fd int) error {
	if fd < 0 || fd >= len(p.regs) || p.regs[fd] == nil {
		return fmt.Errorf("%w: fd %d", ErrNotRegistered, fd)
	}
	p.regs[fd] = nil
	if err := unix.Close(fd); err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// Run implements Poller.
func (p *kqueue) Run(h Handler) error {
	for {
		n, err := unix.Kevent(p.kq, nil, p.events[:], nil)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return os.NewSyscallError("kevent", err)
		}
		woken := false
		// kqueue reports the read and write filters of one fd as separate
		// events; merge neighbours so the handler sees one mask per fd. The
		// merged event is delivered only when the next fd's event comes up,
		// after the previous fd's callback, which may have closed this fd
		// and registered its number again: pendingReg remembers which
		// registration the event was for.
		pendingFD, pendingReg, pending := -1, (*kreg)(nil), Event(0)
		for i := range n {
			e := &p.events[i]
			fd := int(e.Ident)
			if fd == p.wakeR {
				woken = true
				continue
			}
			if fd >= len(p.regs) || p.regs[fd] == nil || !sameRegistration(e, p.regs[fd]) {
				continue // a registration closed earlier in this pass
			}
			ev := neutral(int(e.Filter), int(e.Flags))
			if fd == pendingFD && p.regs[fd] == pendingReg {
				pending |= ev
				continue
			}
			if pendingFD >= 0 {
				p.dispatch(h, pendingFD, pendingReg, pending)
			}
			if fd >= len(p.regs) || p.regs[fd] == nil || !sameRegistration(e, p.regs[fd]) {
				pendingFD = -1 // that callback closed fd (and may have reused its number)
				continue
			}
			pendingFD, pendingReg, pending = fd, p.regs[fd], ev
		}
		if pendingFD >= 0 {
			p.dispatch(h, pendingFD, pendingReg, pending)
		}
		if woken {
			drainPipe(p.wakeR)
			p.awake.Store(false)
			if h.Woken() {
				return nil
			}
		}
	}
}

// dispatch calls h unless an earlier callback of this pass closed fd's
// registration r (and perhaps registered the number again).
func (p *kqueue) dispatch(h Handler, fd int, r *kreg, ev Event) {
	if fd < len(p.regs) && p.regs[fd] == r {
		h.Ready(fd, ev)
	}
}

// Wake implements Poller.
func (p *kqueue) Wake() error {
	if !p.awake.CompareAndSwap(false, true) {
		return nil
	}
	return writePipe(p.wakeW)
}

// Release implements Poller.
func (p *kqueue) Release() error {
	return errors.Join(
		wrapClose("close pipe", unix.Close(p.wakeR)),
		wrapClose("close pipe", unix.Close(p.wakeW)),
		wrapClose("close kqueue", unix.Close(p.kq)),
	)
}
