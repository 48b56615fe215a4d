package loop_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/loop"
)

// memChildEnv makes the test binary run memChild instead of the tests.
const memChildEnv = "REACTOR_TEST_MEM_CHILD"

// memChild serves echo with an idle timeout armed on every connection and,
// for each line on stdin, prints "open heap rss": its open connections, its
// heap and stack in use after a GC, and its resident set size.
func memChild() {
	s := childEchoServer(loop.WithLoops(1), loop.WithIdleTimeout(5*time.Minute))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Println(s.Stats().Total.Open, ms.HeapInuse+ms.StackInuse, rss())
	}
	s.Close()
	os.Exit(0)
}

// rss returns this process's resident set size in bytes.
func rss() uint64 {
	b, _ := os.ReadFile("/proc/self/statm")
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// idleMemory starts memChild, opens n idle connections to it, and returns
// the rise of its heap+stack and of its RSS, per connection.
func idleMemory(t testing.TB, n int) (heapPer, rssPer float64) {
	t.Helper()
	if _, err := os.Stat("/proc/self/statm"); err != nil {
		t.Skip("needs /proc")
	}
	child, addr := startChild(t, 2*time.Minute, memChildEnv)
	defer child.stop()
	sa := sockaddrOf(t, addr)
	measure := func() (open int, heap, rss uint64) {
		io.WriteString(child.stdin, "measure\n")
		line, err := child.out.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		fmt.Sscan(line, &open, &heap, &rss)
		return
	}
	_, heap0, rss0 := measure()
	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for range n {
		// Raw blocking sockets keep this side's memory out of the picture.
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0) // SOCK_CLOEXEC is Linux's
		if err != nil {
			t.Fatal(err)
		}
		unix.CloseOnExec(fd)
		fds = append(fds, fd)
		if err := unix.Connect(fd, sa); err != nil {
			t.Fatal(err)
		}
	}
	var open int
	var heap1, rss1 uint64
	for deadline := time.Now().Add(time.Minute); ; {
		open, heap1, rss1 = measure()
		if open == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if open != n {
		t.Fatalf("server has %d connections open, want %d", open, n)
	}
	return float64(int64(heap1)-int64(heap0)) / float64(n), float64(int64(rss1)-int64(rss0)) / float64(n)
}

func sockaddrOf(t testing.TB, addr string) *unix.SockaddrInet4 {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	return &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}
}

// TestIdleMemory checks that an idle connection with its idle timer armed
// costs the server at most 1 KiB, by its heap and by its RSS. CI uses 2,000
// connections; BenchmarkIdleMemory uses 9,000.
func TestIdleMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory inflates the figures")
	}
	heap, rss := idleMemory(t, 2000)
	t.Logf("per idle connection: heap+stack %.0f B, RSS %.0f B", heap, rss)
	if heap > 1024 || rss > 1024 {
		t.Fatalf("per idle connection: heap+stack %.0f B, RSS %.0f B; want at most 1024 each", heap, rss)
	}
}

// BenchmarkIdleMemory reports the server's memory per idle connection at
// 9,000 connections (the fd limit here is 20,000 per process).
func BenchmarkIdleMemory(b *testing.B) {
	for range b.N {
		heap, rss := idleMemory(b, 9000)
		b.ReportMetric(heap, "heap-B/conn")
		b.ReportMetric(rss, "rss-B/conn")
	}
}
