package main

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/reactorkit/reactor/examples/patterns/handler"
)

// serveWorkerPool is the seed's Thread Pool: a fixed number of worker
// goroutines take accepted connections from a queue and serve each to its
// end. At most cfg.workers connections are served at once; the next ones wait
// in the queue (then in the kernel's backlog) however idle the served ones
// are. Memory and concurrency are bounded up front.
func serveWorkerPool(ctx context.Context, ln net.Listener, cfg config) error {
	queue := make(chan net.Conn, cfg.queue)
	var wg sync.WaitGroup
	for range cfg.workers {
		wg.Go(func() {
			for c := range queue {
				stop := context.AfterFunc(ctx, func() { c.Close() })
				logServeError(handler.Serve(c, cfg.proto, cfg.dir))
				stop()
			}
		})
	}
	defer wg.Wait()
	defer close(queue)
	for {
		c, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		select {
		case queue <- c:
		case <-ctx.Done():
			c.Close()
			return ctx.Err()
		}
	}
}
