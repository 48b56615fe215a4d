package loop_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/loop"
)

func TestEchoSizes(t *testing.T) {
	_, addr := serve(t, echoProto{})
	for _, size := range []int{1, 63, 64 << 10, 64<<10 + 1, 1 << 20, 16 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := dial(t, addr)
			data := testtool.Pattern(size, size)
			r := rand.New(rand.NewPCG(uint64(size), 1))
			if err := echoCheck(c, data, func() int { return 1 + r.IntN(256<<10) }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEchoManyConnections runs 1,000 connections at once, each sending 1 MiB
// in random chunk sizes, and checks every byte of every echo.
func TestEchoManyConnections(t *testing.T) {
	const conns = 1000
	size := 1 << 20
	if raceEnabled || testing.Short() {
		size = 64 << 10
	}
	_, addr := serve(t, echoProto{})
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Go(func() {
			// Generous: a thousand handshakes at once on a loaded machine.
			c, err := net.DialTimeout("tcp", addr, time.Minute)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Minute))
			r := rand.New(rand.NewPCG(uint64(i), 2))
			if err := echoCheck(c, testtool.Pattern(size, i), func() int { return 1 + r.IntN(32<<10) }); err != nil {
				errs <- fmt.Errorf("conn %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestUnixEcho(t *testing.T) {
	s := newServer(t)
	path := filepath.Join(t.TempDir(), "echo.sock")
	ln, err := s.Listen("unix", path, echoProto{})
	if err != nil {
		t.Fatal(err)
	}
	if ln.Addr().Network() != "unix" {
		t.Fatalf("Addr = %v", ln.Addr())
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := rand.New(rand.NewPCG(3, 3))
	if err := echoCheck(c, testtool.Pattern(3<<20, 7), func() int { return 1 + r.IntN(100000) }); err != nil {
		t.Fatal(err)
	}
}

// TestListenNetworks checks the networks and address forms Listen takes.
func TestListenNetworks(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		network, address string
		dialNet, dialTo  string // where a client connects; "" skips dialing
		wantErr          bool
	}{
		{network: "tcp4", address: "127.0.0.1:0", dialNet: "tcp4", dialTo: "127.0.0.1"},
		{network: "tcp6", address: "[::1]:0", dialNet: "tcp6", dialTo: "::1"},
		{network: "tcp", address: ":0", dialNet: "tcp4", dialTo: "127.0.0.1"},
		{network: "tcp", address: ":0", dialNet: "tcp6", dialTo: "::1"},
		{network: "udp", address: ":0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.network+" "+tt.address+" "+tt.dialNet, func(t *testing.T) {
			ln, err := s.Listen(tt.network, tt.address, echoProto{})
			if tt.wantErr {
				if err == nil {
					ln.Close()
					t.Fatal("Listen succeeded")
				}
				return
			}
			if err != nil {
				if tt.dialNet == "tcp6" {
					t.Skip("no IPv6 loopback here:", err)
				}
				t.Fatal(err)
			}
			defer ln.Close()
			port := ln.Addr().(*net.TCPAddr).Port
			c, err := net.DialTimeout(tt.dialNet, net.JoinHostPort(tt.dialTo, fmt.Sprint(port)), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := echoCheck(c, []byte("ping"), func() int { return 4 }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestReusePort gives each loop its own socket on one port (port 0 works)
// and checks connections reach every loop.
func TestReusePort(t *testing.T) {
	s := newServer(t, loop.WithLoops(4))
	seen := make(chan int, 400)
	p := newRecorder()
	p.onOpen = func(c *connT) { seen <- loop.Of(c).Index() }
	ln, err := s.Listen("tcp", "127.0.0.1:0", p, loop.WithReusePort(true))
	if err != nil {
		t.Fatal(err)
	}
	loops := map[int]bool{}
	for i := 0; i < 200 && len(loops) < 4; i++ {
		c := dial(t, ln.Addr().String())
		loops[<-seen] = true
		c.Close()
	}
	if len(loops) < 2 {
		t.Fatalf("200 connections all reached loops %v", loops)
	}
}

// TestLeastConnections checks that balancing by open connections spreads
// long-lived connections evenly.
func TestLeastConnections(t *testing.T) {
	s := newServer(t, loop.WithLoops(3), loop.WithLoadBalancing(loop.LeastConnections))
	p := newRecorder()
	ln, err := s.Listen("tcp", "127.0.0.1:0", p)
	if err != nil {
		t.Fatal(err)
	}
	count := map[int]int{}
	for range 30 {
		dial(t, ln.Addr().String())
		c := <-p.opened
		count[loop.Of(c).Index()]++
	}
	for i := range 3 {
		if count[i] != 10 {
			t.Fatalf("connections per loop %v, want 10 each", count)
		}
	}
}
