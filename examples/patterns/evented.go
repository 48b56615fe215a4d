package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/examples/patterns/handler"
	"github.com/reactorkit/reactor/loop"
	"github.com/reactorkit/reactor/poller"
)

// serveEvented is the seed's Evented (Reactor) pattern, on reactor: a few
// event loops (one by default here) each own an epoll or kqueue poller and
// every connection registered on it, and call the handler when bytes arrive.
// Thousands of connections cost a few hundred bytes each; the price is that
// no callback may block. With tc the listener serves TLS (loop.WithTLS): each
// handshake runs off the loop, and OnOpen runs after it.
func serveEvented(ctx context.Context, cfg config, tc *tls.Config) error {
	s, err := loop.NewServer(loop.WithLoops(cfg.loops), loop.WithIdleTimeout(cfg.idle))
	if err != nil {
		return fmt.Errorf("evented: %w", err)
	}
	var opts []loop.Option
	if tc != nil {
		opts = append(opts, loop.WithTLS(tc))
	}
	ln, err := s.Listen("tcp", cfg.addr, &eventedProtocol{proto: cfg.proto, dir: cfg.dir}, opts...)
	if err != nil {
		s.Close()
		return fmt.Errorf("evented: %w", err)
	}
	slog.Info("listening", "pattern", "evented", "proto", cfg.proto, "addr", ln.Addr(),
		"loops", len(s.Loops()), "poller", poller.Backend, "tls", tc != nil)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		return fmt.Errorf("evented: shutdown: %w", err)
	}
	return nil
}

// eventedProtocol feeds a connection's bytes to its handler.Session. Its
// fields are immutable; each connection's Session is its context.
type eventedProtocol struct {
	loop.BaseProtocol
	proto handler.Proto
	dir   string
}

var _ loop.Protocol = (*eventedProtocol)(nil)

// OnOpen gives the connection its Session and lets it greet.
func (p *eventedProtocol) OnOpen(c *conn.Conn) {
	s := handler.New(p.proto, p.dir)
	c.SetContext(s)
	if err := s.Open(c); err != nil {
		c.Close()
	}
}

// OnData hands every buffered byte to the Session and keeps what it left.
func (p *eventedProtocol) OnData(c *conn.Conn) {
	s := c.Context().(handler.Session)
	in, _ := c.Peek(0)
	n, quit, err := s.Feed(in, c)
	if n > 0 {
		c.Discard(n) // Discard(0) would discard everything, a partial line included
	}
	if quit || err != nil || c.PeerClosed() {
		c.Close() // flushes what is queued first
	}
}
