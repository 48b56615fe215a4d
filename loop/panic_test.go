package loop_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/loop"
)

// TestPanicInOnData closes only the connection whose callback panicked; the
// loop keeps serving the others and new ones, and the panic is logged.
func TestPanicInOnData(t *testing.T) {
	var logs testtool.SyncBuffer
	p := newRecorder()
	p.onData = func(c *conn.Conn) {
		b, _ := c.Next(0)
		if bytes.Contains(b, []byte("boom")) {
			panic("protocol bug")
		}
		c.Write(b)
	}
	_, addr := serve(t, p, loop.WithLoops(1), loop.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	good := dial(t, addr)
	bad := dial(t, addr)
	bad.Write([]byte("boom"))
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := bad.Read(make([]byte, 10)); err != io.EOF {
		t.Fatalf("panicking connection: read %d, %v; want EOF", n, err)
	}
	ev := p.waitClose(t, 5*time.Second)
	var pe *conn.PanicError
	if !errors.Is(ev.err, loop.ErrPanic) || !errors.As(ev.err, &pe) || pe.Callback != "OnData" {
		t.Fatalf("OnClose(%v), want a PanicError from OnData", ev.err)
	}
	for _, c := range []io.ReadWriter{good, dial(t, addr)} {
		c.Write([]byte("ok"))
		b := make([]byte, 2)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "ok" {
			t.Fatalf("after the panic: %q, %v", b, err)
		}
	}
	if !strings.Contains(logs.String(), "protocol bug") {
		t.Fatalf("panic not logged; log:\n%s", logs.String())
	}
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
