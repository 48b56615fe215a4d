package loop_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reactorkit/reactor/loop"
)

// emfileChildEnv makes the test binary run emfileChild instead of the tests.
const emfileChildEnv = "REACTOR_TEST_EMFILE_CHILD"

// rlim converts v to the type of an Rlimit field (like): uint64 on Linux
// and macOS, int64 on FreeBSD and DragonFly.
func rlim[T int64 | uint64](like T, v uint64) T { return T(v) }

// emfileChild serves echo with a file-descriptor limit only a few above what
// it already uses, prints its address, and exits when stdin closes.
func emfileChild() {
	ents, _ := os.ReadDir("/proc/self/fd")
	limit := uint64(len(ents) + 12) // loop's epoll + eventfd + listener + a few connections
	var rl syscall.Rlimit
	rl.Cur, rl.Max = rlim(rl.Cur, limit), rlim(rl.Max, limit)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(1)
	}
	s := childEchoServer(loop.WithLoops(1))
	io.Copy(io.Discard, os.Stdin)
	s.Close()
	os.Exit(0)
}

// cpuTime returns the user+system CPU time of process pid, from
// /proc/PID/stat, in clock ticks.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// pingOK sends one byte and reports whether it came back within d.
func pingOK(c net.Conn, d time.Duration) bool {
	c.SetDeadline(time.Now().Add(d))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte{'x'}); err != nil {
		return false
	}
	var b [1]byte
	_, err := io.ReadFull(c, b[:])
	return err == nil && b[0] == 'x'
}

// TestEMFILE runs a server in a child process with a tiny fd limit, opens
// connections until accept fails with EMFILE, and checks that the server keeps
// serving its open connections, does not spin, and accepts the waiting one
// once a connection closes and frees a descriptor.
func TestEMFILE(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc to read the child's CPU time")
	}
	child, addr := startChild(t, time.Minute, emfileChildEnv)
	defer child.stop()

	var served []net.Conn
	var waiting net.Conn
	for i := 0; i < 50 && waiting == nil; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if pingOK(c, 500*time.Millisecond) {
			served = append(served, c)
		} else {
			waiting = c // in the backlog: the server is out of descriptors
		}
	}
	if waiting == nil || len(served) < 2 {
		t.Fatalf("never hit the fd limit (%d connections served)", len(served))
	}
	t.Logf("server served %d connections, then hit its fd limit", len(served))

	before := cpuTime(t, child.cmd.Process.Pid)
	time.Sleep(time.Second)
	for i, c := range served {
		if !pingOK(c, 2*time.Second) {
			t.Fatalf("open connection %d stopped being served under EMFILE", i)
		}
	}
	if spent := cpuTime(t, child.cmd.Process.Pid) - before; spent > 200*time.Millisecond {
		t.Fatalf("server used %v of CPU in a second at its fd limit: it spins", spent)
	}

	// Free a descriptor: the waiting connection is accepted and its byte,
	// sent before it was accepted, is echoed.
	served[0].(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, served[0])
	waiting.SetDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	if _, err := io.ReadFull(waiting, b[:]); err != nil || b[0] != 'x' {
		t.Fatalf("waiting connection not served after an fd was freed: %v", err)
	}
}
