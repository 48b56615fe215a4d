//go:build linux && !gnet

// The default Linux backend: level-triggered epoll(7), woken by an eventfd(2).

package poller

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Backend names the poller compiled into this program.
const Backend = "epoll"

// maxEvents caps the events taken from one epoll_wait, so one pass does a
// bounded amount of work before the loop runs its tasks and timers again.
const maxEvents = 256

// epoll is the epoll(7) backend.
type epoll struct {
	epfd int // the epoll instance; immutable after New
	efd  int // the eventfd that Wake writes to; immutable after New

	// awake is set by the first Wake after a Woken began and cleared by the
	// loop just before it calls Woken; only the Wake that sets it writes to
	// the eventfd (netpollBreak in Go's runtime does the same).
	awake atomic.Bool

	// regs holds one registration per fd number, indexed by fd. Loop
	// goroutine only.
	regs []registration

	events [maxEvents]unix.EpollEvent // epoll_wait's output; loop goroutine only
}

// registration is the poller's view of one fd.
type registration struct {
	gen      uint32   // generation of the current registration; bumped by Close
	interest Interest // current interest; None means not in the epoll set
	open     bool     // registered with Add and not yet closed
}

// New opens an epoll poller with its wake-up eventfd.
func New() (Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	efd, err := openEventfd()
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	// Edge-triggered: every write to the eventfd makes a new edge, so the loop
	// never has to read the counter back (it only does when the counter would
	// overflow, see writeEventfd).
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(efd)
		unix.Close(epfd)
		return nil, os.NewSyscallError("epoll_ctl add", err)
	}
	return &epoll{epfd: epfd, efd: efd}, nil
}

func (p *epoll) reg(fd int) *registration {
	if fd >= len(p.regs) {
		n := max(2*len(p.regs), fd+1, 64)
		regs := make([]registration, n)
		copy(regs, p.regs)
		p.regs = regs
	}
	return &p.regs[fd]
}

// epollEvents translates an interest into epoll's request bits.
func epollEvents(in Interest) uint32 {
	var e uint32
	if in&Read != 0 {
		e |= unix.EPOLLIN
	}
	if in&Write != 0 {
		e |= unix.EPOLLOUT
	}
	return e
}

func (p *epoll) ctl(op int, fd int, r *registration, in Interest) error {
	// The event's data carries the fd and the registration's generation, so a
	// stale event for a closed-and-reused fd is recognised in Run.
	ev := unix.EpollEvent{Events: epollEvents(in), Fd: int32(fd), Pad: int32(r.gen)}
	err := unix.EpollCtl(p.epfd, op, fd, &ev)
	if err != nil {
		return os.NewSyscallError(ctlName(op), err)
	}
	return nil
}

func ctlName(op int) string {
	switch op {
	case unix.EPOLL_CTL_ADD:
		return "epoll_ctl add"
	case unix.EPOLL_CTL_MOD:
		return "epoll_ctl mod"
	}
	return "epoll_ctl del"
}

// Add implements Poller.
func (p *epoll) Add(fd int, in Interest) error {
	if fd < 0 {
		return fmt.Errorf("%w: fd %d", ErrBadFD, fd)
	}
	r := p.reg(fd)
	if r.open {
		return fmt.Errorf("%w: fd %d", ErrRegistered, fd)
	}
	if in != None {
		if err := p.ctl(unix.EPOLL_CTL_ADD, fd, r, in); err != nil {
			return err
		}
	}
	r.open, r.interest = true, in
	return nil
}

// Modify implements Poller. Interest None takes the fd out of the epoll set,
// because epoll reports EPOLLHUP and EPOLLERR even to an fd that asked for no
// events (epoll_ctl(2)), which would spin a loop that stopped reading.
func (p *epoll) Modify(fd int, in Interest) error {
	if fd < 0 || fd >= len(p.regs) || !p.regs[fd].open {
		return fmt.Errorf("%w: fd %d", ErrNotRegistered, fd)
	}
	r := &p.regs[fd]
	var err error
	switch {
	case in == r.interest:
		return nil
	case r.interest == None:
		err = p.ctl(unix.EPOLL_CTL_ADD, fd, r, in)
	case in == None:
		err = p.ctl(unix.EPOLL_CTL_DEL, fd, r, in)
	default:
		err = p.ctl(unix.EPOLL_CTL_MOD, fd, r, in)
	}
	if err != nil {
		return err
	}
	r.interest = in
	return nil
}

// Close implements Poller.
func (p *epoll) Close(fd int) error {
	if fd < 0 || fd >= len(p.regs) || !p.regs[fd].open {
		return fmt.Errorf("%w: fd %d", ErrNotRegistered, fd)
	}
	r := &p.regs[fd]
	var errs []error
	if r.interest != None {
		// close(2) alone would drop the registration only when no duplicate of
		// the descriptor is left open (epoll(7), Q6); delete it explicitly.
		if err := p.ctl(unix.EPOLL_CTL_DEL, fd, r, None); err != nil {
			errs = append(errs, err)
		}
	}
	r.open, r.interest = false, None
	r.gen++
	if err := unix.Close(fd); err != nil {
		errs = append(errs, os.NewSyscallError("close", err))
	}
	return errors.Join(errs...)
}

// Run implements Poller.
func (p *epoll) Run(h Handler) error {
	// After a pass that handled events, poll once more without waiting
	// before blocking: under load the next events are usually already
	// there, and a loop that blocks in the kernel for longer than sysmon's
	// tick hands its P to another thread and must take it back (futex
	// wake-ups, context switches). An empty zero-timeout poll yields, then
	// the loop blocks. gnet's Polling does the same.
	poll := false
	for {
		var n int
		var err error
		if poll {
			n, err = epollPoll(p.epfd, p.events[:])
		} else {
			n, err = unix.EpollWait(p.epfd, p.events[:], -1)
		}
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return os.NewSyscallError("epoll_wait", err)
		}
		if n == 0 {
			if poll {
				runtime.Gosched()
			}
			poll = false
			continue
		}
		poll = true
		woken := false
		for i := range n {
			e := &p.events[i]
			fd := int(e.Fd)
			if fd == p.efd {
				woken = true
				continue
			}
			// Drop events of a registration that a callback earlier in this
			// pass closed, even if its fd number has been reused since.
			if fd >= len(p.regs) || !p.regs[fd].open || p.regs[fd].gen != uint32(e.Pad) {
				continue
			}
			h.Ready(fd, neutral(e.Events))
		}
		if woken {
			p.awake.Store(false)
			if h.Woken() {
				return nil
			}
		}
	}
}

// Wake implements Poller.
func (p *epoll) Wake() error {
	if !p.awake.CompareAndSwap(false, true) {
		return nil
	}
	return writeEventfd(p.efd)
}

// Release implements Poller.
func (p *epoll) Release() error {
	return errors.Join(
		wrapClose("close eventfd", unix.Close(p.efd)),
		wrapClose("close epoll", unix.Close(p.epfd)),
	)
}

// epollPoll is epoll_wait with a zero timeout, which never waits: a raw
// system call, without the runtime's bookkeeping for a blocking one.
func epollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
