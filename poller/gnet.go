//go:build (linux || darwin || dragonfly || freebsd) && gnet && !poll_opt

// The gnet backend: the Poller interface on gnet's public pkg/netpoll poller
// (github.com/panjf2000/gnet/v2 v2.9.7), chosen with the build tag gnet so
// that users can compare the two by rebuilding. gnet's poll_opt tag changes
// Polling's signature, so this file needs its default build; NetBSD and
// OpenBSD are left out because gnet's default Polling cannot wake up there
// (see gnet_nowakeup.go).
//
// gnet's poller runs its own wait loop, Polling(callback), and lacks several
// things the package contract promises. This file makes up for them, so
// nothing above poller/ knows which backend it got:
//
//   - Polling has no timeout and returns only when a callback or a task
//     returns gnet's ErrEngineShutdown (or ErrAcceptSocket); it swallows
//     every other error. Wake queues a task with Trigger, the task runs
//     Handler.Woken, and when Woken asks to stop, the task returns
//     ErrEngineShutdown; Run then returns nil. Errors the adapter meets on the
//     loop (a failed wake-up) are kept in failed and stop Polling the same way.
//   - gnet drains its task queue until it is empty, so a Wake made while
//     Woken runs would run Woken again before any I/O is polled, and a stream
//     of wake-ups from other goroutines would starve the sockets. Such a wake
//     goes through the adapter's kick fd instead, which brings Woken back on
//     the next pass, after the kernel was polled, as on the native backends.
//   - Changing interest: gnet cannot drop read interest with a Mod call and
//     has no ModWrite, and epoll reports hang-ups even to an fd that asked for
//     nothing. Each platform file maps an interest change onto gnet's calls
//     (gnet_linux.go: Delete, Add and Mod; gnet_bsd.go: an edge-triggered read
//     filter, because gnet's kqueue Delete does nothing).
//   - Stale events: the non-poll_opt Polling passes only the fd number to the
//     callback, with no user data, so a generation cannot ride in the kernel
//     event. Close therefore defers close(2) to a task; see Close for why that
//     keeps every event of a closed registration away from the Handler.

package poller

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	gerrors "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/netpoll"
	"github.com/panjf2000/gnet/v2/pkg/queue"
	"golang.org/x/sys/unix"
)

// Backend names the poller compiled into this program.
const Backend = "gnet"

// maxCloseErrs caps the close(2) failures of deferred closes kept for
// Release; further ones are only counted.
const maxCloseErrs = 8

// gnetPoller is the gnet backend.
type gnetPoller struct {
	np *netpoll.Poller // gnet's poller; immutable after New (its Trigger is goroutine-safe)

	// kickR and kickW are the kick fd, registered with gnet's poller, that
	// brings Woken back on the next pass (see woken and kicked): on Linux
	// one eventfd, written and watched through the same number; on the BSDs
	// the read and write ends of a pipe. Immutable after New.
	kickR, kickW int

	// awake is set by the first Wake after a Woken began and cleared by
	// woken just before it calls Woken; only the Wake that sets it queues
	// the woken task (netpollBreak in Go's runtime and gnet's own Trigger do
	// the same).
	awake atomic.Bool
	// inWoken is true while woken is inside Handler.Woken. A Wake that sets
	// awake then finds inWoken true queues nothing; woken sees awake when
	// Woken returns and writes the kick fd instead.
	inWoken atomic.Bool

	// wokenFn and closeFn are the tasks given to Trigger, made once so that
	// queueing them does not allocate a method value. Immutable after New.
	wokenFn, closeFn queue.Func
	// callback is the function Polling calls for each event; immutable
	// after New.
	callback netpoll.PollEventHandler

	// Loop goroutine only, from here on.

	h Handler // set by Run before Polling starts

	// regs holds one registration per fd number, indexed by fd.
	regs []gnetReg

	// closing holds the fds that Close took out of the poller whose close(2)
	// waits for the close task (or Release).
	closing []int
	// closeQueued is true while a close task is queued and has not run: one
	// task closes every fd in closing, however many Close calls came first.
	closeQueued bool
	// closeErrs keeps close(2) failures of deferred closes, which no caller
	// is waiting for; Release returns them. closeErrsLost counts those
	// beyond maxCloseErrs.
	closeErrs     []error
	closeErrsLost int

	// failed is an error that made the adapter stop Polling; Run returns it.
	failed error
}

var _ Poller = (*gnetPoller)(nil)

// regState is where a registration is in its life:
//
//	free --Add--> open --Close--> closing --close task or Release--> free
//
// A closing fd is out of the kernel's interest set (or, on kqueue, its events
// are ignored) but not yet closed, so its number cannot be reused yet.
type regState uint8

const (
	regFree regState = iota
	regOpen
	regClosing
)

// gnetReg is the adapter's view of one fd.
type gnetReg struct {
	state    regState // free, open or closing
	interest Interest // what the owner asked for; None unless open
	// armed is what the kernel has registered for the fd: on Linux the same
	// as interest; on kqueue Read stays armed once added, because gnet cannot
	// delete a read filter.
	armed Interest
}

// New opens a gnet poller and the adapter's kick fd.
func New() (Poller, error) {
	np, err := netpoll.OpenPoller()
	if err != nil {
		return nil, fmt.Errorf("poller: gnet OpenPoller: %w", err)
	}
	p := &gnetPoller{np: np, kickR: -1, kickW: -1}
	p.wokenFn = p.woken
	p.closeFn = p.closePending
	p.callback = p.event
	if p.kickR, p.kickW, err = openKick(); err != nil {
		np.Close()
		return nil, err
	}
	if err := np.AddRead(&netpoll.PollAttachment{FD: p.kickR}, true); err != nil {
		p.releaseKick()
		np.Close()
		return nil, err
	}
	return p, nil
}

func (p *gnetPoller) reg(fd int) *gnetReg {
	if fd >= len(p.regs) {
		regs := make([]gnetReg, max(2*len(p.regs), fd+1, 64))
		copy(regs, p.regs)
		p.regs = regs
	}
	return &p.regs[fd]
}

// Add implements Poller.
func (p *gnetPoller) Add(fd int, in Interest) error {
	if err := checkFD(fd); err != nil {
		return err
	}
	r := p.reg(fd)
	switch r.state {
	case regOpen:
		return fmt.Errorf("%w: fd %d", ErrRegistered, fd)
	case regClosing:
		// Close has the number and has not closed it yet, so this cannot be
		// a new socket: the caller is using an fd it gave away.
		return fmt.Errorf("%w: fd %d is being closed", ErrRegistered, fd)
	}
	if err := p.change(fd, r, in); err != nil {
		return err
	}
	r.state, r.interest = regOpen, in
	return nil
}

// Modify implements Poller.
func (p *gnetPoller) Modify(fd int, in Interest) error {
	if fd < 0 || fd >= len(p.regs) || p.regs[fd].state != regOpen {
		return fmt.Errorf("%w: fd %d", ErrNotRegistered, fd)
	}
	r := &p.regs[fd]
	if in == r.interest {
		return nil
	}
	if err := p.change(fd, r, in); err != nil {
		return err
	}
	r.interest = in
	return nil
}

// Close implements Poller. It takes fd out of the poller at once, but leaves
// close(2) to a task queued with Trigger (closePending), because gnet's
// Polling hands the callback nothing but the fd number: if the number were
// freed now, a socket opened later in this pass could get it, and an event
// of the old socket still waiting in the pass would reach the new one.
//
// Why the deferral is enough: gnet runs tasks only after it has dispatched
// every event of the batch that one epoll_wait or kevent call returned (its
// Polling: the events loop, then the chores), and the fd number stays taken
// until the task runs. So within the batch that may hold stale events, the
// number cannot be reused, and those events are dropped here because the
// registration is no longer open. Once close(2) has run, the old socket is
// out of the kernel's interest set (deleted by Close on Linux, removed by
// close(2) on kqueue), so no later wait can return an event for it, and
// events for the number belong to whatever registered it next.
//
// Where the task runs depends on where Trigger's wake-up lands:
//
//	loop goroutine, pass N                       result
//	epoll_wait -> [.., fd 7, .., gnet efd, ..]
//	Ready(5) -> Close(7): Trigger
//	  wake-up already in batch N (wakeupCall=1)  task runs in N's chores
//	Ready(7) dropped: 7 is closing               (7 still open here)
//	chores N: close(7)                           7 is free from now on
//
//	epoll_wait -> [.., fd 7, ..]                 (no wake-up in batch N)
//	Ready(5) -> Close(7): Trigger writes efd     efd is ready for pass N+1
//	  (or finds one written since the wait)
//	Ready(7) dropped: 7 is closing
//	epoll_wait -> [.., gnet efd, ..]             7 is out of the interest set,
//	                                             so batch N+1 has no 7
//	chores N+1: close(7)
//
// A Close made by a task (the woken task, inside Woken) queues the close
// task in the drain that is running, which gnet finishes before it polls
// again; the events of that pass were all dispatched before the drain began.
// A Close in a Woken run by kicked, in the middle of a batch, is one of the
// two cases above. The Trigger write itself is the wake-up, so the close
// happens even when nothing else wakes the loop; a close task still queued
// when Run stops is done by Release.
func (p *gnetPoller) Close(fd int) error {
	if fd < 0 || fd >= len(p.regs) || p.regs[fd].state != regOpen {
		return fmt.Errorf("%w: fd %d", ErrNotRegistered, fd)
	}
	r := &p.regs[fd]
	err := p.unregister(fd, r)
	r.state, r.interest, r.armed = regClosing, None, None
	p.closing = append(p.closing, fd)
	if !p.closeQueued {
		p.closeQueued = true
		if terr := p.np.Trigger(queue.HighPriority, p.closeFn, nil); terr != nil {
			// The task is queued anyway (gnet enqueues before it writes the
			// wake-up); it runs with the next wake-up, or Release closes fd.
			err = errors.Join(err, terr)
		}
	}
	return err
}

// closePending is the close task: it closes every fd Close deferred.
func (p *gnetPoller) closePending(any) error {
	p.closeQueued = false
	p.closeDeferred()
	return nil
}

// closeDeferred closes the fds in closing and frees their registrations.
func (p *gnetPoller) closeDeferred() {
	for _, fd := range p.closing {
		if err := unix.Close(fd); err != nil {
			if len(p.closeErrs) < maxCloseErrs {
				p.closeErrs = append(p.closeErrs, fmt.Errorf("fd %d: %w", fd, os.NewSyscallError("close", err)))
			} else {
				p.closeErrsLost++
			}
		}
		p.regs[fd] = gnetReg{}
	}
	p.closing = p.closing[:0]
}

// Run implements Poller.
func (p *gnetPoller) Run(h Handler) error {
	p.h = h
	err := p.np.Polling(p.callback)
	switch {
	case p.failed != nil:
		return p.failed
	case err == nil, errors.Is(err, gerrors.ErrEngineShutdown):
		// Only the adapter's own tasks and callbacks return the shutdown
		// error: Woken asked to stop.
		return nil
	}
	return os.NewSyscallError(waitCall, err)
}

// event is the callback given to Polling: one kernel event for fd.
func (p *gnetPoller) event(fd int, ev netpoll.IOEvent, flags netpoll.IOFlags) error {
	if fd == p.kickR {
		return p.kicked()
	}
	// Drop events of a registration that is closing (closed earlier in this
	// pass, see Close) or never was, and every event of an fd with interest
	// None, which on kqueue may still have its read filter armed.
	if fd >= len(p.regs) || p.regs[fd].state != regOpen || p.regs[fd].interest == None {
		return nil
	}
	if err := p.dispatch(fd, ev, flags); err != nil {
		p.failed = err
		return gerrors.ErrEngineShutdown
	}
	return nil
}

// Wake implements Poller.
func (p *gnetPoller) Wake() error {
	if !p.awake.CompareAndSwap(false, true) {
		return nil
	}
	if p.inWoken.Load() {
		// woken is inside Handler.Woken; it finds awake set when Woken
		// returns and passes the wake-up on through the kick fd.
		return nil
	}
	return p.np.Trigger(queue.HighPriority, p.wokenFn, nil)
}

// woken is the task Wake queues (and kicked calls): it runs Handler.Woken
// and stops Polling when Woken asks to.
//
// gnet runs queued tasks until its queue is empty before it polls again, so
// a task queued by a Wake made during Woken (a Submit from a task, or from
// another goroutine) would run Woken again in the same drain, before any
// socket is looked at, and steady wake-ups would keep the loop from its I/O.
// Such a Wake finds inWoken set and queues nothing; after Woken, the task
// writes the kick fd, and on the next pass the kick fd's event runs woken
// again (kicked).
// The two sides cannot both miss the wake-up (sequentially consistent
// atomics):
//
//	woken                              Wake on any goroutine
//	inWoken = true
//	awake = false
//	h.Woken()                          awake: false -> true
//	                                   inWoken true: queue nothing
//	inWoken = false
//	awake true: write the kick fd
//
// If Wake reads inWoken after it was cleared, Wake queues the task itself; if
// woken also saw awake, Woken runs once more than needed, which the contract
// allows ("Woken runs after Wake was called").
func (p *gnetPoller) woken(any) error {
	p.inWoken.Store(true)
	// Cleared before Woken begins: a Wake from here on gets a Woken of its own.
	p.awake.Store(false)
	stop := p.h.Woken()
	p.inWoken.Store(false)
	if stop {
		return gerrors.ErrEngineShutdown
	}
	if p.awake.Load() {
		if err := p.kick(); err != nil {
			p.failed = err
			return gerrors.ErrEngineShutdown
		}
	}
	return nil
}

// kicked handles the kick fd's event: a wake-up made during Woken is due.
// Woken runs right here, at the kick fd's turn in the pass, rather than in a
// task queued now, which would wait for yet another pass; the events after
// it in the batch are dispatched as usual (any fd it closed is closing, see
// event).
func (p *gnetPoller) kicked() error {
	p.drainKick()
	if !p.awake.Load() {
		return nil // woken has run since the kick
	}
	return p.woken(nil)
}

// Release implements Poller: it closes the fds whose close(2) was still
// deferred, the kick fd and gnet's poller, and returns the failures of
// deferred closes as well.
func (p *gnetPoller) Release() error {
	p.closeDeferred()
	errs := p.closeErrs
	if p.closeErrsLost > 0 {
		errs = append(errs, fmt.Errorf("%d more deferred close(2) calls failed", p.closeErrsLost))
	}
	p.closeErrs, p.closeErrsLost = nil, 0
	errs = append(errs, p.releaseKick())
	if err := p.np.Close(); err != nil {
		errs = append(errs, fmt.Errorf("poller: gnet Close: %w", err))
	}
	return errors.Join(errs...)
}
