// Command patterns serves the seed's FTP-like line protocol (or echo) with
// one of the six server architectures of the seed's second half, so they can
// be compared side by side (examples/bench does that):
//
//	serial      one connection at a time, in the accepting goroutine
//	process     a child process per connection, handed the socket (ExtraFiles)
//	goroutine   a goroutine per connection (the seed's thread per connection)
//	prefork     N child processes accepting on one inherited listening socket
//	pool        a fixed number of goroutines taking connections from a queue
//	evented     reactor's event loops (the seed's Evented / Reactor)
//
// Every pattern hands its connections to the same handler package, so they
// differ only in how connections reach it. Usage:
//
//	go run ./examples/patterns -pattern goroutine -addr 127.0.0.1:2121 -proto ftp
//	go run ./examples/patterns -pattern evented -proto echo -tls-cert cert.pem -tls-key key.pem
//
// With -tls-cert and -tls-key (or -tls-self-signed) the server speaks TLS:
// the evented pattern with reactor's loop.WithTLS (crypto/tls on the loop),
// the serial, goroutine and pool patterns with crypto/tls's tls.NewListener,
// as a package net server does. The two process patterns hand raw sockets to
// child processes and do not serve TLS.
//
// See README.md beside this file for each pattern's trade-offs and numbers.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/reactorkit/reactor/examples/internal/fdlimit"
	"github.com/reactorkit/reactor/examples/internal/tlsflags"
	"github.com/reactorkit/reactor/examples/patterns/handler"
)

// config is everything the flags set.
type config struct {
	pattern  string         // which architecture serves
	addr     string         // listen address
	proto    handler.Proto  // echo or ftp
	dir      string         // the FTP session's starting directory
	procs    int            // prefork: child processes
	workers  int            // pool: goroutines
	queue    int            // pool: connections waiting for a worker
	maxProcs int            // process: most children alive at once
	loops    int            // evented: event loops (0: one per CPU)
	idle     time.Duration  // evented: idle timeout (0: never)
	child    string         // internal: "conn" or "prefork" when re-executed as a child
	tls      tlsflags.Flags // -tls-cert, -tls-key, -tls-self-signed
}

// errUsage reports bad flags.
var errUsage = errors.New("patterns: usage")

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("patterns", flag.ContinueOnError)
	var cfg config
	proto := fs.String("proto", "ftp", "protocol: ftp (the seed's line protocol) or echo")
	fs.StringVar(&cfg.pattern, "pattern", "", "serial, process, goroutine, prefork, pool or evented")
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:2121", "address to listen on")
	fs.StringVar(&cfg.dir, "dir", "", "FTP starting directory (default: the working directory)")
	fs.IntVar(&cfg.procs, "procs", 4, "prefork: number of child processes")
	fs.IntVar(&cfg.workers, "workers", 128, "pool: number of worker goroutines")
	fs.IntVar(&cfg.queue, "queue", 1024, "pool: accepted connections waiting for a worker")
	fs.IntVar(&cfg.maxProcs, "max-procs", 256, "process: most child processes at once (accepting waits beyond)")
	fs.IntVar(&cfg.loops, "loops", 0, "evented: event loops (0: one per CPU)")
	fs.DurationVar(&cfg.idle, "idle-timeout", 5*time.Minute, "evented: close connections idle this long (0: never)")
	fs.StringVar(&cfg.child, "child", "", "internal: run as a child process of the process or prefork pattern")
	fs.StringVar(&cfg.tls.CertFile, "tls-cert", "", "serve TLS with this PEM certificate (needs -tls-key); evented, goroutine, pool and serial only")
	fs.StringVar(&cfg.tls.KeyFile, "tls-key", "", "PEM private key of -tls-cert")
	fs.BoolVar(&cfg.tls.SelfSigned, "tls-self-signed", false, "serve TLS with a certificate made at start-up (its file for clients to trust is logged)")
	if err := fs.Parse(args); err != nil {
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	p, err := handler.ParseProto(*proto)
	if err != nil {
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	cfg.proto = p
	if cfg.dir == "" {
		if cfg.dir, err = os.Getwd(); err != nil {
			return cfg, fmt.Errorf("patterns: working directory: %w", err)
		}
	}
	if cfg.child == "" {
		if _, ok := patternFunc(cfg.pattern); !ok {
			return cfg, fmt.Errorf("%w: -pattern %q (want serial, process, goroutine, prefork, pool or evented)", errUsage, cfg.pattern)
		}
	}
	if cfg.procs < 1 || cfg.workers < 1 || cfg.maxProcs < 1 || cfg.queue < 0 {
		return cfg, fmt.Errorf("%w: -procs, -workers and -max-procs must be at least 1", errUsage)
	}
	if cfg.tlsOn() {
		switch {
		case cfg.tls.SelfSigned && (cfg.tls.CertFile != "" || cfg.tls.KeyFile != ""):
			return cfg, fmt.Errorf("%w: -tls-self-signed and -tls-cert/-tls-key exclude each other", errUsage)
		case !cfg.tls.SelfSigned && (cfg.tls.CertFile == "" || cfg.tls.KeyFile == ""):
			return cfg, fmt.Errorf("%w: -tls-cert and -tls-key go together", errUsage)
		case cfg.pattern == "process" || cfg.pattern == "prefork":
			return cfg, fmt.Errorf("%w: -pattern %s hands raw sockets to child processes and serves no TLS", errUsage, cfg.pattern)
		}
	}
	return cfg, nil
}

// tlsOn reports whether a TLS flag was given.
func (cfg config) tlsOn() bool {
	return cfg.tls.CertFile != "" || cfg.tls.KeyFile != "" || cfg.tls.SelfSigned
}

// tlsConfig loads the certificate the TLS flags name (nil without them).
// A self-signed certificate's file for clients to trust is logged, and
// removed by the returned function.
func tlsConfig(cfg config) (*tls.Config, func(), error) {
	if !cfg.tlsOn() || cfg.child != "" {
		return nil, func() {}, nil
	}
	tc, caFile, err := cfg.tls.Config()
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	if caFile == "" {
		return tc, func() {}, nil
	}
	slog.Info("self-signed certificate for clients to trust", "file", caFile)
	return tc, func() {
		if err := tlsflags.RemoveCA(caFile); err != nil {
			slog.Warn("patterns: removing the self-signed certificate's file", "err", err)
		}
	}, nil
}

// serveFunc runs a pattern on ln until ctx is done.
type serveFunc func(ctx context.Context, ln net.Listener, cfg config) error

// patternFunc returns the implementation of a -pattern name. The evented
// pattern has none: reactor opens its own listener (see run).
func patternFunc(name string) (serveFunc, bool) {
	switch name {
	case "serial":
		return serveSerial, true
	case "process":
		return serveProcessPerConn, true
	case "goroutine":
		return serveGoroutinePerConn, true
	case "prefork":
		return servePrefork, true
	case "pool":
		return serveWorkerPool, true
	case "evented":
		return nil, true
	}
	return nil, false
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, _, err := fdlimit.Raise(); err != nil {
		slog.Warn("patterns: raising the open-files limit", "err", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		slog.Error("patterns", "pattern", cfg.pattern, "child", cfg.child, "err", err)
		os.Exit(1)
	}
}

// run starts the chosen pattern (or child role) and returns when ctx is
// done or it fails.
func run(ctx context.Context, cfg config) error {
	switch cfg.child {
	case "conn":
		return runConnChild(ctx, cfg)
	case "prefork":
		return runPreforkChild(ctx, cfg)
	case "":
	default:
		return fmt.Errorf("%w: -child %q", errUsage, cfg.child)
	}
	tc, cleanup, err := tlsConfig(cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	if cfg.pattern == "evented" {
		return serveEvented(ctx, cfg, tc)
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if tc != nil {
		// Go's own TLS server: each connection's handshake runs on its
		// first Read, in the goroutine that serves it.
		ln = tls.NewListener(ln, tc)
	}
	slog.Info("listening", "pattern", cfg.pattern, "proto", cfg.proto, "addr", ln.Addr(), "tls", tc != nil)
	stopAccept := context.AfterFunc(ctx, func() { ln.Close() })
	defer stopAccept()
	serve, _ := patternFunc(cfg.pattern)
	err = serve(ctx, ln, cfg)
	if ctx.Err() != nil && errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// childCommand is a copy of this program (self) in the child role kind
// (-child kind) with cfg's protocol and folder, handed f as its file
// descriptor 3: the process pattern's connection, the prefork pattern's
// listening socket. It inherits the parent's stderr and, on Linux, dies
// with it (childAttr).
func childCommand(self, kind string, f *os.File, cfg config) *exec.Cmd {
	cmd := exec.Command(self, "-child", kind, "-proto", string(cfg.proto), "-dir", cfg.dir)
	cmd.ExtraFiles = []*os.File{f} // fd 3 in the child
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = childAttr()
	return cmd
}

// logServeError logs a connection's error unless it is an ordinary end
// (a reset from a client that closed without reading, say).
func logServeError(err error) {
	if err == nil || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return
	}
	slog.Debug("connection", "err", err)
}
