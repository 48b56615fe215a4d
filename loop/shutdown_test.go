package loop_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/loop"
)

// TestShutdownDrainsLargeReply: a client is part-way through receiving 8 MiB
// when Shutdown starts; it gets every byte before the connection closes, and
// Shutdown returns nil.
func TestShutdownDrainsLargeReply(t *testing.T) {
	body := testtool.Pattern(8<<20, 9)
	p := newRecorder()
	p.onData = func(c *conn.Conn) {
		c.Discard(0)
		c.Write(body)
	}
	s, addr := serveUnmanaged(t, p, loop.WithLoops(2))
	c := dial(t, addr)
	c.SetReadBuffer(64 << 10)
	c.Write([]byte("get\n"))
	got := make([]byte, 0, len(body))
	buf := make([]byte, 64<<10)
	for len(got) < 1<<20 { // read the first MiB, then shut down mid-way
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		time.Sleep(time.Millisecond) // a slow reader
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("got %d bytes, want %d (equal=%v)", len(got), len(body), bytes.Equal(got, body))
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if ev := p.waitClose(t, time.Second); ev.err != nil {
		t.Fatalf("OnClose(%v), want a clean close", ev.err)
	}
}

// shutdownNotice is a protocol that says goodbye when the server shuts down.
type shutdownNotice struct{ echoProto }

func (shutdownNotice) OnShutdown(c *conn.Conn) { c.Write([]byte("421 bye\n")) }

// TestShutdownBacklogAndRefusal: connections waiting in the listen backlog
// when Shutdown starts are accepted and served, not reset; protocols get
// OnShutdown; after Shutdown new connections are refused.
func TestShutdownBacklogAndRefusal(t *testing.T) {
	s, addr := serveUnmanaged(t, shutdownNotice{}, loop.WithLoops(1))
	// Hold the loop so the next connections wait in the kernel's backlog.
	release := make(chan struct{})
	held := make(chan struct{})
	s.Loops()[0].Submit(func() { close(held); <-release })
	<-held
	var clients []net.Conn
	for range 5 {
		c := dial(t, addr)
		c.Write([]byte("ping\n"))
		clients = append(clients, c)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond) // Shutdown is now queued behind the held loop
	close(release)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				t.Errorf("client %d: %v after %q", i, err, got)
				return
			}
			if !bytes.Contains(got, []byte("ping\n")) || !bytes.Contains(got, []byte("421 bye\n")) {
				t.Errorf("client %d got %q", i, got)
			}
		})
	}
	wg.Wait()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after Shutdown: %v, want connection refused", err)
	}
	if _, err := s.Listen("tcp", "127.0.0.1:0", echoProto{}); !errors.Is(err, loop.ErrServerClosed) {
		t.Fatalf("Listen after Shutdown: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// TestShutdownDeadline: connections still busy when the deadline passes are
// closed with ErrServerClosed and Shutdown reports the deadline.
func TestShutdownDeadline(t *testing.T) {
	p := newRecorder()
	p.onData = func(c *conn.Conn) {} // keeps input unconsumed: never drains
	s, addr := serveUnmanaged(t, p, loop.WithLoops(2))
	c := dial(t, addr)
	c.Write([]byte("half a frame"))
	<-p.opened
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	if ev := p.waitClose(t, time.Second); !errors.Is(ev.err, loop.ErrServerClosed) {
		t.Fatalf("OnClose(%v), want ErrServerClosed", ev.err)
	}
}

// TestListenAndServe serves until its context ends and returns after the
// drain.
func TestListenAndServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- loop.ListenAndServe(ctx, "tcp", addr, echoProto{}, loop.WithLoops(1)) }()
	var c net.Conn
	waitFor(t, 5*time.Second, "the server to listen", func() bool {
		c, err = net.Dial("tcp", addr)
		return err == nil
	})
	defer c.Close()
	if err := echoCheck(c, []byte("hello"), func() int { return 5 }); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return")
	}
}

func TestOptionScope(t *testing.T) {
	s := newServer(t)
	if _, err := s.Listen("tcp", "127.0.0.1:0", echoProto{}, loop.WithLoops(3)); !errors.Is(err, loop.ErrOptionScope) {
		t.Fatalf("Listen(WithLoops): %v, want ErrOptionScope", err)
	}
	if _, err := s.Dial(context.Background(), "tcp", "127.0.0.1:1", echoProto{}, loop.WithReusePort(true)); !errors.Is(err, loop.ErrOptionScope) {
		t.Fatalf("Dial(WithReusePort): %v, want ErrOptionScope", err)
	}
}
