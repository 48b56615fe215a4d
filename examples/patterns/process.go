package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"

	"github.com/reactorkit/reactor/examples/patterns/handler"
)

// serveProcessPerConn is the seed's Process per Connection. Go cannot fork
// without exec, so the parent accepts, then starts a copy of this program
// (-child conn) and hands it the accepted socket as file descriptor 3
// (exec.Cmd.ExtraFiles); the child serves that one connection and exits.
// Children share nothing, so a crash takes down one connection only; but
// each connection costs a process start (milliseconds) and a whole runtime's
// memory (megabytes). At most cfg.maxProcs children run at once; beyond that
// the parent stops accepting until one exits, since the machine's process
// limit (pid_max) is finite.
func serveProcessPerConn(ctx context.Context, ln net.Listener, cfg config) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("process: %w", err)
	}
	slots := make(chan struct{}, cfg.maxProcs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		c, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		cmd, err := startConnChild(self, c, cfg)
		if err != nil {
			slog.Warn("process: child", "err", err)
			<-slots
			continue
		}
		stop := context.AfterFunc(ctx, func() { cmd.Process.Signal(os.Interrupt) })
		wg.Go(func() {
			defer func() { <-slots }()
			defer stop()
			if err := cmd.Wait(); err != nil && ctx.Err() == nil {
				slog.Warn("process: child exited", "pid", cmd.Process.Pid, "err", err)
			}
		})
	}
}

// startConnChild starts a child serving c and closes the parent's copies of
// the socket.
func startConnChild(self string, c net.Conn, cfg config) (*exec.Cmd, error) {
	defer c.Close()
	f, err := c.(*net.TCPConn).File()
	if err != nil {
		return nil, fmt.Errorf("socket file: %w", err)
	}
	defer f.Close()
	cmd := childCommand(self, "conn", f, cfg)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	return cmd, nil
}

// runConnChild serves the connection inherited as file descriptor 3 until
// it ends or ctx is done.
func runConnChild(ctx context.Context, cfg config) error {
	f := os.NewFile(3, "conn")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("child: inherited socket: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	logServeError(handler.Serve(c, cfg.proto, cfg.dir))
	return nil
}
