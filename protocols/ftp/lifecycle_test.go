package ftp_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/protocols/ftp"
)

// TestActiveModeLeavesFromControlAddress: an active data connection leaves
// from the address the client reached the server on (loop.WithLocalAddr),
// not from the one the kernel would pick for the route.
func TestActiveModeLeavesFromControlAddress(t *testing.T) {
	t.Parallel()
	// The server listens on 127.0.0.2; the client comes from 127.0.0.1, so
	// without a bound source the kernel would use 127.0.0.1 to reach it.
	ts := startServer(t, serverConfig{host: "127.0.0.2"})
	ts.write(t, "f", []byte("hello"))
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, Timeout: opTimeout}
	nc, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Skipf("no second loopback address here: %v", err)
	}
	c := wrapClient(t, nc)
	c.login(testUser, testPass)
	ln := c.port()
	c.send("RETR f")
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(opTimeout))
	dc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	if code, _ := c.read(); code != 150 && code != 125 {
		t.Fatalf("RETR: %d", code)
	}
	if from := dc.RemoteAddr().(*net.TCPAddr).IP.String(); from != "127.0.0.2" {
		t.Fatalf("data connection from %s, want 127.0.0.2", from)
	}
	if b, _ := io.ReadAll(dc); string(b) != "hello" {
		t.Fatalf("got %q", b)
	}
	if code, text := c.read(); code != 226 {
		t.Fatalf("after the transfer: %d %s", code, text)
	}
}

// wrapClient makes a client of an open control connection and reads the
// greeting.
func wrapClient(t testing.TB, nc net.Conn) *client {
	t.Helper()
	t.Cleanup(func() { nc.Close() })
	c := &client{t: t, conn: nc, r: bufio.NewReader(nc)}
	if code, msg := c.read(); code != 220 {
		t.Fatalf("greeting %d %s", code, msg)
	}
	return c
}

// shutdownAsync starts a graceful shutdown of ts with deadline d and returns
// its result when it ends.
func shutdownAsync(ts *testServer, d time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		done <- ts.ls.Shutdown(ctx)
	}()
	return done
}

// waitRefused waits until the control port refuses connections: the
// shutdown has begun.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(opTimeout); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
	}
	t.Fatal("the control port still accepts connections")
}

// TestShutdownDuringTransfers: a graceful shutdown lets a running download
// and upload finish (their control connections are marked busy), then
// each session gets 226 and 421; an idle session gets 421 at once.
func TestShutdownDuringTransfers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		ascii bool
	}{{"binary", false}, {"ascii", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, serverConfig{loops: 1})
			big := bytes.Repeat([]byte("0123456789abcdef\r\n"), 1<<20) // 18 MiB
			ts.write(t, "big", big)

			idle := dialClient(t, ts.addr)
			idle.login(testUser, testPass)

			down := dialClient(t, ts.addr)
			down.login(testUser, testPass)
			if tc.ascii {
				down.expect("TYPE A", 200)
			}
			dd := down.epsv()
			if code, text := down.cmd("RETR big"); code != 150 && code != 125 {
				t.Fatalf("RETR: %d %s", code, text)
			}
			head := make([]byte, 64<<10)
			if _, err := io.ReadFull(dd, head); err != nil {
				t.Fatal(err)
			}

			up := dialClient(t, ts.addr)
			up.login(testUser, testPass)
			ud := up.epsv()
			if code, text := up.cmd("STOR up"); code != 150 && code != 125 {
				t.Fatalf("STOR: %d %s", code, text)
			}
			if _, err := ud.Write(big[:1<<20]); err != nil {
				t.Fatal(err)
			}

			done := shutdownAsync(ts, 20*time.Second)
			waitRefused(t, ts.addr)
			if code, text := idle.read(); code != 421 {
				t.Fatalf("idle session: %d %s", code, text)
			}

			// Both transfers go on to their ends.
			if _, err := ud.Write(big[1<<20:]); err != nil {
				t.Fatal(err)
			}
			ud.Close()
			dd.SetReadDeadline(time.Now().Add(opTimeout))
			rest, err := io.ReadAll(dd)
			if err != nil {
				t.Fatal(err)
			}
			if got := append(head, rest...); !bytes.Equal(got, big) {
				t.Fatalf("downloaded %d bytes, want %d", len(got), len(big))
			}
			for _, c := range []*client{down, up} {
				if code, text := c.read(); code != 226 {
					t.Fatalf("after the transfer: %d %s", code, text)
				}
				if code, text := c.read(); code != 421 {
					t.Fatalf("after 226: %d %s", code, text)
				}
				if !c.closed() {
					t.Fatal("control connection still open after 421")
				}
			}
			if got := ts.read(t, "up"); !bytes.Equal(got, big) {
				t.Fatalf("uploaded %d bytes, want %d", len(got), len(big))
			}
			if err := <-done; err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		})
	}
}

// TestShutdownGrace: with WithShutdownGrace, a transfer whose client stops
// reading is aborted after the grace with 426, then 421, well within the
// Shutdown deadline.
func TestShutdownGrace(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverConfig{loops: 1, opts: []ftp.Option{ftp.WithShutdownGrace(200 * time.Millisecond)}})
	ts.write(t, "big", testtool.Pattern(32<<20, 3))
	c := dialClient(t, ts.addr)
	c.login(testUser, testPass)
	d := c.epsv()
	if code, text := c.cmd("RETR big"); code != 150 && code != 125 {
		t.Fatalf("RETR: %d %s", code, text)
	}
	if _, err := io.ReadFull(d, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := shutdownAsync(ts, 20*time.Second)
	if code, text := c.read(); code != 426 {
		t.Fatalf("got %d %s, want 426", code, text)
	}
	if code, text := c.read(); code != 421 {
		t.Fatalf("got %d %s, want 421", code, text)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("shutdown took %v", el)
	}
}

// TestShutdownWhileWaitingForData: a transfer still waiting for its passive
// connection cannot get one once the listeners close: 425, then 421.
func TestShutdownWhileWaitingForData(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverConfig{loops: 1})
	ts.write(t, "f", []byte("x"))
	c := dialClient(t, ts.addr)
	c.login(testUser, testPass)
	c.expect("EPSV", 229) // and never connect
	c.expect("RETR f", 150)
	done := shutdownAsync(ts, 20*time.Second)
	for _, want := range []int{425, 421} {
		if code, text := c.read(); code != want {
			t.Fatalf("got %d %s, want %d", code, text, want)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func ExampleWithShutdownGrace() {
	srv, err := ftp.New(ftp.WithAnonymous("."), ftp.WithShutdownGrace(25*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	// Give loop.Server.Shutdown a deadline above 25 s: transfers still
	// running then are told 426, every session 421, before it passes.
	fmt.Println("ok")
	// Output: ok
}
