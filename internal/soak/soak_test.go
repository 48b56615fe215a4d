// Package soak runs echo, CloudHash and FTP traffic against reactor servers
// in one process for a while, with faults mixed in, and checks that nothing
// is lost or corrupted and nothing grows: descriptors, goroutines and heap.
//
// It runs only when REACTOR_SOAK names a duration (.ci/run sets 20s):
//
//	REACTOR_SOAK=60s go test -run Soak -v ./internal/soak/
package soak_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"go.uber.org/goleak"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
	"github.com/reactorkit/reactor/protocols/cloudhash"
	ftpd "github.com/reactorkit/reactor/protocols/ftp"
)

// SoakEnv names the duration of the soak; unset, the test skips.
const SoakEnv = "REACTOR_SOAK"

// echo writes back what it reads and closes after the peer's FIN.
type echo struct{ loop.BaseProtocol }

func (echo) OnData(c *conn.Conn) {
	b, _ := c.Next(0)
	c.Write(b)
	if c.PeerClosed() {
		c.Close()
	}
}

// sample is the process's state at a quiet moment: every client paused and
// every server connection closed.
type sample struct {
	fds, goroutines int
	heap            uint64
	stacks          string // every goroutine's stack, to name what grew
}

// gate pauses the workers so the sampler sees a quiet process.
type gate struct {
	mu      sync.Mutex
	cond    *sync.Cond
	paused  bool
	waiting int
}

func newGate() *gate {
	g := &gate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// pass blocks a worker while the gate is paused.
func (g *gate) pass() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.paused {
		g.waiting++
		g.cond.Broadcast()
		for g.paused {
			g.cond.Wait()
		}
		g.waiting--
	}
}

// pause waits until n workers are waiting at the gate.
func (g *gate) pause(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused = true
	for g.waiting < n {
		g.cond.Wait()
	}
}

func (g *gate) resume() {
	g.mu.Lock()
	g.paused = false
	g.cond.Broadcast()
	g.mu.Unlock()
}

func TestSoak(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv(SoakEnv))
	if err != nil {
		t.Skipf("set %s to a duration (e.g. 20s) to run the soak", SoakEnv)
	}
	defer goleak.VerifyNone(t)
	ctx := context.Background()
	// Warnings and errors only: the transfer log would drown the output.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// The servers.
	echoSrv, err := loop.NewServer(loop.WithLoops(2), loop.WithLogger(logger), loop.WithReadTimeout(400*time.Millisecond),
		loop.WithWriteTimeout(400*time.Millisecond), loop.WithHalfCloseTimeout(400*time.Millisecond),
		loop.WithSocketBuffers(64<<10, 64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer echoSrv.Close()
	echoLn, err := echoSrv.Listen("tcp", "127.0.0.1:0", echo{})
	if err != nil {
		t.Fatal(err)
	}
	chSrv, err := cloudhash.NewServer(cloudhash.WithLineAddr("127.0.0.1:0"), cloudhash.WithLengthAddr("127.0.0.1:0"),
		cloudhash.WithRESPAddr("127.0.0.1:0"), cloudhash.WithLogger(logger), cloudhash.WithLoopOptions(loop.WithLoops(2), loop.WithLogger(logger)))
	if err != nil {
		t.Fatal(err)
	}
	defer chSrv.Close()
	ftpRoot := t.TempDir()
	// Its worker pool starts goroutines on demand up to its bound; a small
	// bound is reached in the first seconds, so later growth means a leak.
	ftpSrv, err := ftpd.New(ftpd.WithUser("soak", "secret", ftpRoot, ftpd.ReadWrite), ftpd.WithLogger(logger),
		ftpd.WithDiskWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	ftpLoops, err := loop.NewServer(loop.WithLoops(2), loop.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	ftpLn, err := ftpLoops.Listen("tcp", "127.0.0.1:0", ftpSrv)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ftpLoops.Close()
		ftpSrv.Close()
	}()

	var (
		failures atomic.Int64
		cycles   [3]atomic.Int64 // echo, cloudhash, ftp
		faults   atomic.Int64
	)
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}
	workers := []func(r *mrand.Rand, id int){
		func(r *mrand.Rand, id int) { // echo, every fifth cycle a fault
			if r.IntN(5) == 0 {
				faults.Add(1)
				echoFault(r, echoLn.Addr().String())
				return
			}
			if err := echoCycle(r, echoLn.Addr().String()); err != nil {
				fail("echo: %v", err)
			}
			cycles[0].Add(1)
		},
		func(r *mrand.Rand, id int) { // cloudhash, and now and then garbage on the RESP port
			if r.IntN(8) == 0 {
				faults.Add(1)
				if err := respGarbage(chSrv.RESPAddr().String()); err != nil {
					fail("cloudhash garbage: %v", err)
				}
				return
			}
			addr, framing := chSrv.LineAddr().String(), cloudhash.FramingLine
			if r.IntN(2) == 0 {
				addr, framing = chSrv.LengthAddr().String(), cloudhash.FramingLength
			}
			if err := cloudhashCycle(ctx, r, id, addr, framing); err != nil {
				fail("cloudhash: %v", err)
			}
			cycles[1].Add(1)
		},
		func(r *mrand.Rand, id int) { // ftp, now and then a session dropped mid-download
			drop := r.IntN(6) == 0
			if drop {
				faults.Add(1)
			}
			if err := ftpCycle(r, id, ftpLn.Addr().String(), drop); err != nil {
				fail("ftp: %v", err)
			}
			if !drop {
				cycles[2].Add(1)
			}
		},
	}
	const perKind = 3
	g := newGate()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for k, work := range workers {
		for i := range perKind {
			wg.Go(func() {
				r := mrand.New(mrand.NewPCG(uint64(k), uint64(i)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					g.pass()
					work(r, k*100+i)
				}
			})
		}
	}
	quiet := func() sample {
		g.pause(len(workers) * perKind)
		defer g.resume()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if echoSrv.Stats().Total.Open == 0 && chSrv.Loops().Stats().Total.Open == 0 && ftpLoops.Stats().Total.Open == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		ents, _ := os.ReadDir("/proc/self/fd")
		// A timer's goroutine may be passing through (a loop's runtime timer
		// waking it): take the fewest goroutines of a few looks.
		g := runtime.NumGoroutine()
		for range 5 {
			time.Sleep(2 * time.Millisecond)
			g = min(g, runtime.NumGoroutine())
		}
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		return sample{fds: len(ents), goroutines: g, heap: ms.HeapInuse, stacks: string(buf)}
	}
	var samples []sample
	start := time.Now()
	for time.Since(start) < dur {
		time.Sleep(dur / 20)
		samples = append(samples, quiet())
	}
	close(stop)
	wg.Wait()
	t.Logf("%v: %d echo, %d cloudhash, %d ftp cycles, %d faults injected", dur,
		cycles[0].Load(), cycles[1].Load(), cycles[2].Load(), faults.Load())
	if cycles[0].Load() == 0 || cycles[1].Load() == 0 || cycles[2].Load() == 0 {
		t.Fatal("a kind of traffic never completed a cycle")
	}
	q := max(len(samples)/4, 1)
	first, last := samples[:q], samples[len(samples)-q:]
	worst := func(s []sample, f func(sample) uint64) uint64 {
		m := uint64(0)
		for _, x := range s {
			m = max(m, f(x))
		}
		return m
	}
	for _, m := range []struct {
		name  string
		f     func(sample) uint64
		slack func(uint64) uint64
	}{
		{"descriptors", func(s sample) uint64 { return uint64(s.fds) }, func(uint64) uint64 { return 0 }},
		{"goroutines", func(s sample) uint64 { return uint64(s.goroutines) }, func(uint64) uint64 { return 0 }},
		{"heap", func(s sample) uint64 { return s.heap }, func(h uint64) uint64 { return h/10 + 1<<20 }},
	} {
		a, b := worst(first, m.f), worst(last, m.f)
		t.Logf("%s: first quarter at most %d, last quarter at most %d", m.name, a, b)
		if b > a+m.slack(a) {
			t.Errorf("%s grew from %d to %d between the first and last quarter", m.name, a, b)
			if m.name == "goroutines" {
				most := func(s []sample) sample {
					best := s[0]
					for _, x := range s {
						if x.goroutines > best.goroutines {
							best = x
						}
					}
					return best
				}
				t.Logf("goroutines at the start:\n%s\nat the end:\n%s", most(first).stacks, most(last).stacks)
			}
		}
	}
}

// echoCycle echoes a random payload and checks every byte.
func echoCycle(r *mrand.Rand, addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	data := make([]byte, 1+r.IntN(256<<10))
	rand.Read(data)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if werr := <-errc; werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("%d bytes echoed as %d, or changed", len(data), len(got))
	}
	return nil
}

// echoFault misbehaves in one of three ways; the server must close the
// connection by itself (or take the reset) without harm to others.
func echoFault(r *mrand.Rand, addr string) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	tc := c.(*net.TCPConn)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	switch r.IntN(3) {
	case 0: // reset in the middle of a stream
		c.Write(make([]byte, 128<<10))
		tc.SetLinger(0)
	case 1: // half-close and vanish: the half-close linger timeout ends it
		c.Write([]byte("hello"))
		tc.CloseWrite()
		io.Copy(io.Discard, c)
	case 2: // never read: the write timeout ends it
		tc.SetReadBuffer(16 << 10)
		c.Write(make([]byte, 2<<20))
		time.Sleep(500 * time.Millisecond)
		tc.SetLinger(0)
	}
}

// respGarbage sends binary garbage to the RESP port and expects an error
// reply and a closed connection.
func respGarbage(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("*2\r\n$3\r\nGET\r\n$99999999999\r\n"))
	got, _ := io.ReadAll(c)
	if !bytes.HasPrefix(got, []byte("-ERR Protocol error")) {
		return fmt.Errorf("garbage answered %q", got)
	}
	return nil
}

// cloudhashCycle sets and gets keys of its own and checks every value.
func cloudhashCycle(ctx context.Context, r *mrand.Rand, id int, addr string, framing cloudhash.Framing) error {
	cl, err := cloudhash.Dial(ctx, addr, cloudhash.WithFraming(framing))
	if err != nil {
		return err
	}
	defer cl.Close()
	want := map[string][]byte{}
	for i := range 50 {
		key := fmt.Sprintf("w%d-k%d", id, r.IntN(20))
		if r.IntN(2) == 0 || want[key] == nil {
			v := fmt.Appendf(nil, "v%d-%d-%x", id, i, r.Uint64())
			if framing == cloudhash.FramingLength {
				v = append(v, 0, '\n', 0xff) // any bytes go on the length-prefixed port
			}
			if err := cl.Set(ctx, key, v); err != nil {
				return err
			}
			want[key] = v
			continue
		}
		got, err := cl.Get(ctx, key)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want[key]) {
			return fmt.Errorf("get %s = %q, want %q", key, got, want[key])
		}
	}
	return nil
}

// ftpCycle uploads a random file, downloads it and compares, lists, deletes
// it; with drop, it abandons the session in the middle of the download.
func ftpCycle(r *mrand.Rand, id int, addr string, drop bool) error {
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		return err
	}
	defer c.Quit()
	if err := c.Login("soak", "secret"); err != nil {
		return err
	}
	name := fmt.Sprintf("f%d.bin", id)
	data := make([]byte, 64<<10+r.IntN(1<<20))
	rand.Read(data)
	if err := c.Stor(name, bytes.NewReader(data)); err != nil {
		return err
	}
	resp, err := c.Retr(name)
	if err != nil {
		return err
	}
	if drop {
		resp.Read(make([]byte, 1000))
		return nil // Quit in the defer closes the control connection mid-transfer
	}
	got, err := io.ReadAll(resp)
	resp.Close()
	if err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		return errors.New("downloaded file differs from the upload")
	}
	if _, err := c.List("/"); err != nil {
		return err
	}
	return c.Delete(name)
}
