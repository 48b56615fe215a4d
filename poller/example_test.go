package poller_test

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/poller"
)

// printer prints the first readiness it sees and stops at the next wake-up.
type printer struct {
	p    poller.Poller
	seen bool
}

func (h *printer) Ready(fd int, ev poller.Event) {
	if !h.seen {
		h.seen = true
		fmt.Println("readable:", ev&poller.Readable != 0)
		h.p.Wake()
	}
}

func (h *printer) Woken() bool { return h.seen }

// Watch one end of a socket pair and see it become readable.
func Example() {
	p, err := poller.New()
	if err != nil {
		panic(err)
	}
	defer p.Release()
	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	defer unix.Close(fds[1])
	unix.SetNonblock(fds[0], true)
	if err := p.Add(fds[0], poller.Read); err != nil {
		panic(err)
	}
	unix.Write(fds[1], []byte("hi"))
	p.Run(&printer{p: p})
	p.Close(fds[0])
	// Output: readable: true
}
