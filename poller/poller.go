// Package poller is reactor's readiness poller: one small interface over the
// operating system's event notification facility, with one file per backend.
//
// A Poller watches file descriptors for readiness and calls a Handler on the
// goroutine that runs [Poller.Run]. Every backend translates its native events
// (epoll's EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP, kqueue's separate read and write
// filters) into one neutral [Event] mask, so nothing above this package knows
// which backend it got. The backends are chosen at build time:
//
//   - epoll on Linux (epoll_linux.go) and kqueue on the BSDs and macOS
//     (kqueue_bsd.go), built by default;
//   - gnet's public pkg/netpoll poller with the build tag gnet (gnet.go).
//
// [Backend] names the one compiled in.
//
// # Contract
//
// All methods except Wake must be called on the goroutine that runs Run (the
// loop goroutine), or before Run starts. Wake is safe from any goroutine.
//
// Registrations are level-triggered: an fd whose interest includes Read is
// reported readable on every pass while unread bytes (or EOF, or an error)
// remain; the same holds for Write while the socket's send buffer has room.
// Interest None removes every notification, including hang-ups and errors, so
// a connection that stopped reading never spins the loop.
//
// Hang-ups and errors are reported as [Readable]|[Writable] together with
// [Hangup] or [Failed], so the owner finds the cause on its next read or write
// system call instead of guessing it from the event.
//
// Each registration carries a generation. When an fd is closed with
// [Poller.Close] and its number is reused by a later socket while events for
// the old socket are still waiting in the current pass, those stale events are
// dropped: a Handler never sees an event that belongs to an earlier
// registration of the same fd number. (The gnet backend's kernel events carry
// no generation; it keeps the number from being reused within the pass by
// deferring close(2) until the pass's events are dispatched.)
//
// Run has no timeout: a loop that needs to run timers arranges to be woken
// through Wake (reactor keeps one runtime timer per loop for that), because not
// every backend's wait call takes a timeout.
package poller

// Event is the neutral readiness mask a backend reports for one fd.
type Event uint32

// The readiness bits. A backend may report several at once.
const (
	// Readable: a read (or accept) will not block: bytes, EOF or an error wait.
	Readable Event = 1 << iota
	// Writable: a write will not block, or a connect has finished.
	Writable
	// Hangup: the peer closed the connection (EPOLLHUP, EPOLLRDHUP, EV_EOF).
	// Always reported together with Readable and Writable.
	Hangup
	// Failed: the socket has a pending error (EPOLLERR, EV_ERROR). Always
	// reported together with Readable and Writable.
	Failed
)

// String returns the set bits, for logs and test failures.
// Safe for concurrent use.
func (e Event) String() string {
	if e == 0 {
		return "none"
	}
	s := ""
	for _, b := range []struct {
		bit  Event
		name string
	}{{Readable, "read"}, {Writable, "write"}, {Hangup, "hup"}, {Failed, "err"}} {
		if e&b.bit != 0 {
			if s != "" {
				s += "|"
			}
			s += b.name
		}
	}
	return s
}

// Interest is the set of readiness kinds an fd is watched for.
type Interest uint8

// The interests. Write interest should be asked for only while there are
// queued bytes to send: a writable socket is writable almost always, and a
// level-triggered Write interest with nothing to write would spin the loop.
const (
	// None watches nothing; the fd stays owned by the poller but reports no
	// events at all, not even hang-ups.
	None Interest = 0
	// Read watches for readability (and hang-ups and errors).
	Read Interest = 1 << 0
	// Write watches for writability (and hang-ups and errors).
	Write Interest = 1 << 1
	// ReadWrite watches for both.
	ReadWrite = Read | Write
)

// String names the interest, for logs and test failures.
// Safe for concurrent use.
func (i Interest) String() string {
	switch i {
	case None:
		return "none"
	case Read:
		return "read"
	case Write:
		return "write"
	case ReadWrite:
		return "read|write"
	}
	return "invalid"
}

// Handler receives a poller's events. Its methods run on the goroutine that
// called Run, one at a time.
type Handler interface {
	// Ready reports that fd, registered and not closed, has the readiness in
	// ev. It may call any Poller method, including Close on fd or on another
	// fd and Add for a new one. Loop goroutine only.
	Ready(fd int, ev Event)
	// Woken runs after Wake was called (once for any number of Wake calls made
	// since the previous Woken began). It returns true to make Run return.
	// Loop goroutine only.
	Woken() (stop bool)
}

// Poller watches fds for readiness. See the package documentation for which
// goroutine may call what.
type Poller interface {
	// Add registers fd with interest in, in level-triggered mode. fd must be
	// non-blocking and not already registered. Loop goroutine only (or
	// before Run starts).
	Add(fd int, in Interest) error
	// Modify changes a registered fd's interest. Setting the interest it
	// already has is allowed and cheap for callers that track it.
	// Loop goroutine only (or before Run starts).
	Modify(fd int, in Interest) error
	// Close removes fd's registration and closes fd. Events for fd still
	// waiting in the current pass are dropped, also when the kernel hands the
	// same fd number to a new socket before the pass ends. A backend may
	// defer the close(2) itself until the pass's events are dispatched (the
	// gnet backend does, see gnet.go), or if Run has stopped, until Release;
	// the error of a deferred close(2) is returned by Release, since no
	// caller of Close is waiting for it. Loop goroutine only (or before Run
	// starts).
	Close(fd int) error
	// Run waits for events and dispatches them to h until h.Woken returns true
	// or the poller fails; it returns nil after a stop and the error otherwise.
	// It must be called once. Loop goroutine only: the goroutine that calls
	// it is the loop goroutine.
	Run(h Handler) error
	// Wake makes Run call h.Woken soon. It does not block, and coalesces:
	// many Wake calls before Woken runs cost one wake-up.
	// Safe for concurrent use, from any goroutine.
	Wake() error
	// Release frees the poller's own descriptors after Run has returned (or if
	// it never ran), and closes fds whose close(2) Close deferred. Registered
	// fds are not closed. Call it once, after Run has returned (or instead
	// of running it); it is not safe for concurrent use.
	Release() error
}
