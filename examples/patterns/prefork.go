package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/reactorkit/reactor/examples/patterns/handler"
)

// servePrefork is the seed's Preforking: the parent opens the listening
// socket, starts cfg.procs copies of this program (-child prefork) that
// inherit it as file descriptor 3, and only watches them, starting a new one
// when one dies. Each child accepts on the shared socket and serves one
// connection at a time, so at most cfg.procs clients are served at once.
// Processes are isolated and started once; every child still carries a whole
// runtime's memory.
func servePrefork(ctx context.Context, ln net.Listener, cfg config) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("prefork: %w", err)
	}
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		return fmt.Errorf("prefork: listener file: %w", err)
	}
	defer lf.Close()
	var wg sync.WaitGroup
	errs := make(chan error, cfg.procs)
	for i := range cfg.procs {
		wg.Go(func() { errs <- superviseChild(ctx, self, lf, cfg, i) })
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// superviseChild keeps child i running until ctx is done, restarting it
// after an unexpected exit (at most once per 100 ms, so a child that cannot
// start does not spin the parent).
func superviseChild(ctx context.Context, self string, lf *os.File, cfg config, i int) error {
	for ctx.Err() == nil {
		cmd := childCommand(self, "prefork", lf, cfg)
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("prefork: child %d: %w", i, err)
		}
		stop := context.AfterFunc(ctx, func() { cmd.Process.Signal(os.Interrupt) })
		err := cmd.Wait()
		stop()
		if ctx.Err() != nil {
			return nil
		}
		slog.Warn("prefork: child quit unexpectedly; starting another", "child", i, "pid", cmd.Process.Pid, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// runPreforkChild accepts on the inherited listening socket and serves one
// connection at a time until ctx is done.
func runPreforkChild(ctx context.Context, cfg config) error {
	f := os.NewFile(3, "listener")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("prefork child: inherited listener: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("prefork child: accept: %w", err)
		}
		cstop := context.AfterFunc(ctx, func() { c.Close() })
		logServeError(handler.Serve(c, cfg.proto, cfg.dir))
		cstop()
	}
}
