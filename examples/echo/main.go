// Command echo is reactor's smallest server: it writes back every byte it
// receives, and closes a connection once the peer has half-closed and
// everything has been echoed.
//
//	go run ./examples/echo -addr 127.0.0.1:7000 [-loops N] [-idle-timeout 5m]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/examples/internal/debughttp"
	"github.com/reactorkit/reactor/loop"
	"github.com/reactorkit/reactor/poller"
)

// echo is the whole protocol.
type echo struct{ loop.BaseProtocol }

func (echo) OnData(c *conn.Conn) {
	b, _ := c.Next(0)
	c.Write(b)
	if c.PeerClosed() {
		c.Close() // sends what is still queued first
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	idle := flag.Duration("idle-timeout", 5*time.Minute, "close connections idle this long (0: never)")
	debugAddr := flag.String("debug-addr", "", "serve stats (expvar) and pprof on this address")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := loop.NewServer(loop.WithLoops(*loops), loop.WithIdleTimeout(*idle))
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	ln, err := s.Listen("tcp", *addr, echo{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	stopDebug, err := debughttp.Serve(*debugAddr, s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	defer stopDebug()
	slog.Info("echo server listening", "addr", ln.Addr(), "loops", len(s.Loops()), "poller", poller.Backend)
	fmt.Printf("try: nc %s\n", ln.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		slog.Warn("shutdown", "err", err)
	}
}
