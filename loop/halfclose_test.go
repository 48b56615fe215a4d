package loop_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

// seedAnswer is the answer of the seed's CloudHash-style exchange: the
// request upper-cased.
func seedAnswer(req []byte) []byte { return bytes.ToUpper(req) }

// TestPeerHalfClose is the seed's exchange: the client writes a request,
// half-closes, and reads the answer until EOF. The server answers once it
// sees PeerClosed, either at once or from an off-loop goroutine.
func TestPeerHalfClose(t *testing.T) {
	tests := []struct {
		name   string
		answer func(t *testing.T, c *conn.Conn, req []byte)
	}{
		{name: "answered on the loop", answer: func(t *testing.T, c *conn.Conn, req []byte) {
			c.Write(seedAnswer(req))
			c.Close()
		}},
		{name: "answered off the loop", answer: func(t *testing.T, c *conn.Conn, req []byte) {
			req = bytes.Clone(req)
			go func() {
				time.Sleep(50 * time.Millisecond) // "work" done elsewhere
				if err := c.AsyncWrite(seedAnswer(req)); err != nil {
					t.Error(err)
				}
				c.Submit(func(c *conn.Conn) { c.Close() })
			}()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newRecorder()
			p.onData = func(c *conn.Conn) {
				if !c.PeerClosed() {
					return // the request ends at EOF: keep it buffered
				}
				req, _ := c.Next(0)
				tt.answer(t, c, req)
			}
			_, addr := serve(t, p)
			for i := range 5 {
				c := dial(t, addr)
				req := strings.Repeat("set prez obama ", i*1000+1)
				if _, err := c.Write([]byte(req)); err != nil {
					t.Fatal(err)
				}
				c.CloseWrite()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				got, err := io.ReadAll(c)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != strings.ToUpper(req) {
					t.Fatalf("answer %q…, want %q…", got[:min(len(got), 20)], strings.ToUpper(req)[:20])
				}
				if ev := p.waitClose(t, 5*time.Second); ev.err != nil {
					t.Fatalf("OnClose(%v), want nil", ev.err)
				}
			}
		})
	}
}

// TestServerHalfClose: the server sends its part and half-closes; the client
// reads to EOF, then still sends, and the server still reads.
func TestServerHalfClose(t *testing.T) {
	p := newRecorder()
	got := make(chan string, 1)
	p.onOpen = func(c *conn.Conn) {
		c.Write([]byte("hello"))
		if err := c.CloseWrite(); err != nil {
			t.Error(err)
		}
		if _, err := c.Write([]byte("late")); err == nil {
			t.Error("Write after CloseWrite succeeded")
		}
	}
	var buf []byte
	p.onData = func(c *conn.Conn) {
		b, _ := c.Next(0)
		buf = append(buf, b...)
		if c.PeerClosed() {
			got <- string(buf)
		}
	}
	_, addr := serve(t, p)
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	hello, err := io.ReadAll(c)
	if err != nil || string(hello) != "hello" {
		t.Fatalf("read %q, %v", hello, err)
	}
	c.Write([]byte("bye"))
	c.CloseWrite()
	select {
	case s := <-got:
		if s != "bye" {
			t.Fatalf("server read %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not read after its CloseWrite")
	}
	// Both directions are shut: the connection ends cleanly by itself.
	if ev := p.waitClose(t, 5*time.Second); ev.err != nil {
		t.Fatalf("OnClose(%v)", ev.err)
	}
}

// TestHalfCloseTimeout: a protocol that never closes after the peer's FIN is
// closed by the half-close linger timeout.
func TestHalfCloseTimeout(t *testing.T) {
	p := newRecorder()
	_, addr := serve(t, p, loop.WithHalfCloseTimeout(100*time.Millisecond))
	c := dial(t, addr)
	c.CloseWrite()
	if ev := p.waitClose(t, 5*time.Second); ev.err != loop.ErrHalfCloseTimeout {
		t.Fatalf("OnClose(%v), want ErrHalfCloseTimeout", ev.err)
	}
}
