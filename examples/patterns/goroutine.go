package main

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/reactorkit/reactor/examples/patterns/handler"
)

// serveGoroutinePerConn is the seed's Thread per Connection in Go's idiom: a
// goroutine per accepted connection, blocking reads and writes on it (Go's
// runtime parks the goroutine on its own netpoller, so this is what package
// net servers do). Simple, and no limit on connections but memory: each costs
// a goroutine stack and its read buffer.
func serveGoroutinePerConn(ctx context.Context, ln net.Listener, cfg config) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		wg.Go(func() {
			defer stop()
			logServeError(handler.Serve(c, cfg.proto, cfg.dir))
		})
	}
}
