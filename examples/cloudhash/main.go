// Command cloudhash runs the CloudHash key-value server, or talks to one.
//
//	go run ./examples/cloudhash [serve] [-line 127.0.0.1:4481] [-length 127.0.0.1:4482]
//	    [-resp 127.0.0.1:6380] [-maxmemory 100mb] [-data cloudhash.snap]
//	    [-password secret] [-loops N]
//	go run ./examples/cloudhash set [-addr 127.0.0.1:4481] [-framing line|length] prez obama
//	go run ./examples/cloudhash get [-addr 127.0.0.1:4481] [-framing line|length] prez
//
// The server serves one store on three listeners: the seed's line protocol
// (and its EOF-framed form) on -line, the length-prefixed protocol on
// -length, and RESP2 for redis-cli, redis-benchmark and Redis clients on
// -resp; an empty address turns a listener off. With -data it loads the
// snapshot at start and writes one on SAVE, BGSAVE and SIGINT or SIGTERM,
// which shut the server down gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/reactorkit/reactor/examples/internal/debughttp"
	"github.com/reactorkit/reactor/examples/internal/fdlimit"
	"github.com/reactorkit/reactor/examples/internal/tlsflags"
	"github.com/reactorkit/reactor/loop"
	"github.com/reactorkit/reactor/poller"
	"github.com/reactorkit/reactor/protocols/cloudhash"
)

func main() {
	cmd, args := "serve", os.Args[1:]
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args)
	case "get", "set":
		err = client(cmd, args)
	default:
		err = fmt.Errorf("unknown command %q: want serve, get or set", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cloudhash:", err)
		os.Exit(1)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	lineAddr := fs.String("line", cloudhash.DefaultLineAddr, "line and EOF-framed protocol address (\"\": off)")
	lengthAddr := fs.String("length", cloudhash.DefaultLengthAddr, "length-prefixed protocol address (\"\": off)")
	respAddr := fs.String("resp", cloudhash.DefaultRESPAddr, "RESP2 address (\"\": off)")
	maxMemory := fs.String("maxmemory", "0", "refuse writes above this many bytes of data (100mb, 1gb; 0: no limit)")
	data := fs.String("data", "", "snapshot file, loaded at start and written on SAVE, BGSAVE and shutdown")
	password := fs.String("password", "", "password RESP clients must AUTH with")
	loops := fs.Int("loops", 0, "event loops (0: one per CPU)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	debugAddr := fs.String("debug-addr", "", "serve stats (expvar) and pprof on this address")
	var tf tlsflags.Flags
	fs.StringVar(&tf.CertFile, "tls-cert", "", "serve RESP over TLS with this PEM certificate (with -tls-key)")
	fs.StringVar(&tf.KeyFile, "tls-key", "", "the PEM private key of -tls-cert")
	fs.BoolVar(&tf.SelfSigned, "tls-self-signed", false, "serve RESP over TLS with a certificate made at start; its PEM is written for clients to trust")
	fs.Parse(args)
	tlsCfg, caFile, err := tf.Config()
	if err != nil {
		return err
	}
	if caFile != "" {
		defer tlsflags.RemoveCA(caFile)
	}

	maxMem, err := parseBytes(*maxMemory)
	if err != nil {
		return fmt.Errorf("-maxmemory: %w", err)
	}
	soft, hard, err := fdlimit.Raise()
	if err != nil {
		slog.Warn("cloudhash: could not raise the open-file limit", "err", err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := cloudhash.NewServer(
		cloudhash.WithLineAddr(*lineAddr),
		cloudhash.WithLengthAddr(*lengthAddr),
		cloudhash.WithRESPAddr(*respAddr),
		cloudhash.WithMaxMemory(maxMem),
		cloudhash.WithDataFile(*data),
		cloudhash.WithPassword(*password),
		cloudhash.WithLoopOptions(loop.WithLoops(*loops)),
		cloudhash.WithRESPTLS(tlsCfg),
	)
	if err != nil {
		return err
	}
	stopDebug, err := debughttp.Serve(*debugAddr, s.Loops())
	if err != nil {
		s.Close()
		return err
	}
	defer stopDebug()
	slog.Info("cloudhash: serving",
		"poller", poller.Backend,
		"loops", len(s.Loops().Loops()),
		"gomaxprocs", runtime.GOMAXPROCS(0),
		"line", addrString(s.LineAddr()),
		"length", addrString(s.LengthAddr()),
		"resp", addrString(s.RESPAddr()),
		"maxmemory", maxMem,
		"data", *data,
		"keys", s.Store().Len(),
		"nofile_soft", soft, "nofile_hard", hard,
	)
	if tlsCfg != nil {
		slog.Info("cloudhash: RESP over TLS", "try", fmt.Sprintf("redis-cli -p %s --tls --cacert %s", port(s.RESPAddr()), orString(caFile, "YOUR-CA.pem")))
	}
	// Tests and scripts read this line to learn the addresses chosen for
	// port 0.
	fmt.Printf("ready poller=%s line=%s length=%s resp=%s\n", poller.Backend,
		addrString(s.LineAddr()), addrString(s.LengthAddr()), addrString(s.RESPAddr()))
	<-ctx.Done()
	stop()
	slog.Info("cloudhash: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	slog.Info("cloudhash: stopped", "keys", s.Store().Len())
	return nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return a.String()
}

// parseBytes reads a size as Redis's config does: a number with an
// optional k, kb, m, mb, g or gb (k = 1000, kb = 1024, and so on).
func parseBytes(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	units := []struct {
		suffix string
		mult   int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"b", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func client(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	addr := fs.String("addr", cloudhash.DefaultLineAddr, "server address")
	framing := fs.String("framing", "line", "line or length (use the length-prefixed port with length)")
	timeout := fs.Duration("timeout", 5*time.Second, "time to wait for the answer")
	fs.Parse(args)
	var opts []cloudhash.ClientOption
	switch *framing {
	case "line":
	case "length":
		opts = append(opts, cloudhash.WithFraming(cloudhash.FramingLength))
	default:
		return fmt.Errorf("-framing %q: want line or length", *framing)
	}
	opts = append(opts, cloudhash.WithTimeout(*timeout))
	want := 1
	if cmd == "set" {
		want = 2
	}
	if fs.NArg() != want {
		return errors.New("usage: cloudhash get KEY | cloudhash set KEY VALUE")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c, err := cloudhash.Dial(ctx, *addr, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	if cmd == "set" {
		if err := c.Set(ctx, fs.Arg(0), []byte(fs.Arg(1))); err != nil {
			return err
		}
		fmt.Println(fs.Arg(1))
		return nil
	}
	v, err := c.Get(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Println(string(v))
	return nil
}

// port returns the port of a TCP address, "" for none.
func port(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return strconv.Itoa(t.Port)
	}
	return ""
}

// orString returns s, or def when s is empty.
func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
