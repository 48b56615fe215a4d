package poller_test

import (
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/poller"
)

// tcpPair returns the two ends of a loopback TCP connection, non-blocking,
// closed at cleanup.
func tcpPair(t *testing.T) (client, server int) {
	t.Helper()
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ln)
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ln, 1); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(ln)
	if err != nil {
		t.Fatal(err)
	}
	client, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(client) })
	if err := unix.Connect(client, sa); err != nil {
		t.Fatal(err)
	}
	server, _, err = unix.Accept4(ln, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(server) })
	return client, server
}

// TestUrgentByteDoesNotSpin has the peer send one TCP urgent byte (MSG_OOB,
// tcp(7)). A plain read never consumes it, so a backend that asks epoll for
// EPOLLPRI (gnet's does) would report the fd on every pass while nothing can
// be read. The stream must look the same on every backend: nothing to report
// for the urgent byte, and the bytes after it readable as usual.
func TestUrgentByteDoesNotSpin(t *testing.T) {
	p := newPoller(t)
	client, server := tcpPair(t)
	if err := p.Add(server, poller.Read); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.SendmsgN(client, []byte{'!'}, nil, nil, unix.MSG_OOB); err != nil {
		t.Fatal(err)
	}
	var events atomic.Int64
	var got atomic.Value
	run(t, p, &recorder{ready: func(fd int, ev poller.Event) {
		events.Add(1)
		if ev&poller.Readable == 0 {
			return // as conn/ does: nothing to read
		}
		var buf [16]byte
		if n, err := unix.Read(fd, buf[:]); err == nil && n > 0 {
			got.Store(string(buf[:n]))
		}
	}})
	time.Sleep(100 * time.Millisecond)
	if n := events.Load(); n > 2 {
		t.Fatalf("%d events in 100ms for a socket holding only an urgent byte", n)
	}
	if _, err := unix.Write(client, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the bytes after the urgent one", func() bool { return got.Load() != nil })
	if s := got.Load().(string); s != "ok" {
		t.Fatalf("read %q after the urgent byte, want %q", s, "ok")
	}
}
