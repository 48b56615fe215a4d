package main

import (
	"context"
	"fmt"
	"net"

	"github.com/reactorkit/reactor/examples/patterns/handler"
)

// serveSerial is the seed's Serial pattern: accept one connection, serve it
// to the end, accept the next. No concurrency at all, so a second client
// waits in the kernel's backlog until the first one leaves, and one slow
// client stalls everyone.
func serveSerial(ctx context.Context, ln net.Listener, cfg config) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		logServeError(handler.Serve(c, cfg.proto, cfg.dir))
	}
}
