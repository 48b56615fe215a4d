// Command bench measures reactor against its peers and the seed's server
// architectures on this machine, in one run, side by side:
//
//	go run ./examples/bench            # full run: 5 interleaved rounds, ~15 min
//	go run ./examples/bench -quick     # every server, every workload, < 2 min
//
// It builds the servers itself with go build (reactor on its native poller
// and with -tags gnet, gnet's own engine, and the examples/patterns
// architectures: serial, process per connection, goroutine per connection =
// Go net, preforking, worker pool, evented = reactor), compiles the C epoll
// echo reference when a C compiler is present, and adds any -extra server.
// For the TLS workloads (tls-echo, tls-pipelined, tls-idle, tls-handshake)
// it makes a self-signed certificate (tlscert), writes it to a temporary
// directory and starts reactor with loop.WithTLS and Go's net with
// crypto/tls on it; the generator's clients are reactor TLS dials that
// verify it.
// Each server runs as its own process group on a free loopback port, with
// GOMAXPROCS=1 and one loop by default, while a load generator written on
// reactor (non-blocking sockets, all CPUs) drives it and checks every answer
// byte for byte: a wrong answer fails the run.
//
// Progress goes to stderr, a Markdown table to stdout, a chart to -chart
// (PNG or SVG) and, with -json, every measurement to a file.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/reactorkit/reactor/examples/internal/fdlimit"
)

// config is everything the flags set.
type config struct {
	quick       bool
	rounds      int
	duration    time.Duration // measured time of each throughput workload
	warmup      time.Duration // before each measurement
	settle      time.Duration // idle: wait before reading memory
	drain       time.Duration // longest wait for the last replies
	conns       int           // ping-pong and pipelined connections
	streamConns int           // streaming connections
	clients     int           // churn and session concurrent clients
	idle        int           // idle connections
	serverCPUs  int           // GOMAXPROCS and loops of each server
	genLoops    int           // the load generator's event loops
	servers     []string      // only these servers (all when empty)
	workloads   []string      // only these workloads (all when empty)
	extras      []*serverSpec // -extra servers
	cref        string        // the C reference's source
	goCmd       string        // the go command
	jsonPath    string        // write results as JSON here
	chartPath   string        // write the chart here
	progress    bool          // show the progress bar
	from        string        // re-render the report of this JSON file instead of measuring
}

// extraFlag collects repeated -extra flags.
type extraFlag []*serverSpec

func (e *extraFlag) String() string { return fmt.Sprint(len(*e), " extra servers") }

func (e *extraFlag) Set(s string) error {
	spec, err := parseExtra(s)
	if err != nil {
		return err
	}
	*e = append(*e, spec)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var extras extraFlag
	var servers, loads string
	fs.BoolVar(&cfg.quick, "quick", false, "short run checking every server and workload (under 2 minutes); sets the defaults below to small values")
	fs.IntVar(&cfg.rounds, "rounds", 5, "interleaved rounds; tables show the median (and the best)")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "measured time of each throughput workload")
	fs.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "warm-up before each measurement")
	fs.IntVar(&cfg.conns, "conns", 100, "connections of the ping-pong and pipelined workloads")
	fs.IntVar(&cfg.streamConns, "stream-conns", 1000, "connections of the streaming workload")
	fs.IntVar(&cfg.clients, "clients", 16, "concurrent clients of the churn and session workloads")
	fs.IntVar(&cfg.idle, "idle", 5000, "idle connections for the memory workload (issue 10 reports 9000)")
	fs.IntVar(&cfg.serverCPUs, "server-cpus", 1, "GOMAXPROCS and event loops (or C threads) of each server")
	fs.IntVar(&cfg.genLoops, "gen-loops", genLoopsDefault(), "event loops of the load generator")
	fs.StringVar(&servers, "servers", "", "comma-separated servers to run (default all): reactor,reactor-gnet,gnet,gonet,c-epoll,serial,process,prefork,pool,reactor-tls,reactor-gnet-tls,gonet-tls and -extra names")
	fs.StringVar(&loads, "workloads", "", "comma-separated workloads to run (default all): pingpong,pipelined,stream,churn,idle,session,tls-echo,tls-pipelined,tls-idle,tls-handshake")
	fs.Var(&extras, "extra", "an extra echo server, name=command with {port}, {addr} or {cpus} (repeatable); e.g. -extra 'mine=./myecho -p {port}'")
	fs.StringVar(&cfg.cref, "cref", "../shared/reference/cepoll_echo.c", "the C epoll echo reference source (relative to the module root)")
	fs.StringVar(&cfg.jsonPath, "json", "", "write every measurement and the summary as JSON to this file ('-' for stdout instead of the table)")
	fs.StringVar(&cfg.chartPath, "chart", "", "write the CPU-per-message chart here, .png or .svg (default bench.png; none with -quick)")
	fs.BoolVar(&cfg.progress, "progress", term.IsTerminal(int(os.Stderr.Fd())), "show a progress bar on stderr (default when it is a terminal; otherwise one line per measurement)")
	fs.StringVar(&cfg.from, "from", "", "measure nothing: print the table and draw the chart (-chart) of a -json results file")
	if err := fs.Parse(args); err != nil {
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.quick {
		quick := map[string]func(){
			"rounds":   func() { cfg.rounds = 1 },
			"duration": func() { cfg.duration = 400 * time.Millisecond },
			"warmup":   func() { cfg.warmup = 100 * time.Millisecond },
			"idle":     func() { cfg.idle = 500 },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	} else if !set["chart"] {
		cfg.chartPath = "bench.png"
	}
	cfg.settle, cfg.drain = time.Second, 10*time.Second
	if cfg.quick {
		cfg.settle = 300 * time.Millisecond
	}
	cfg.extras = extras
	cfg.servers = splitList(servers)
	cfg.workloads = splitList(loads)
	if cfg.rounds < 1 || cfg.conns < 1 || cfg.streamConns < 1 || cfg.clients < 1 || cfg.idle < 1 ||
		cfg.serverCPUs < 1 || cfg.genLoops < 1 || cfg.duration <= 0 || cfg.warmup < 0 {
		return cfg, fmt.Errorf("%w: counts and durations must be positive", errUsage)
	}
	if ext := strings.ToLower(cfg.chartPath); ext != "" && !strings.HasSuffix(ext, ".png") && !strings.HasSuffix(ext, ".svg") {
		return cfg, fmt.Errorf("%w: -chart %q: want a .png or .svg file", errUsage, cfg.chartPath)
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = runtime.GOROOT() + "/bin/go"
	}
	cfg.goCmd = goCmd
	return cfg, nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	// The generator holds every connection of the idle workload.
	if _, _, err := fdlimit.Raise(); err != nil {
		slog.Warn("bench: raising the open-files limit", "err", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := 0
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		code = 1
	}
	stop()
	os.Exit(code)
}

// run builds, measures and reports. It returns an error when a server
// could not be built, answered wrongly or failed a workload, or when ctx
// ended first; every server process is gone when it returns.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) (err error) {
	if cfg.from != "" {
		return rerender(cfg, stdout, stderr)
	}
	start, loadBefore := time.Now(), loadAverage()
	sup := newSupervisor()
	defer func() { err = errors.Join(err, sup.killAll()) }()

	servers, loads, err := selection(cfg)
	if err != nil {
		return err
	}
	root, err := moduleRoot(ctx, cfg.goCmd)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: building %d server binaries…\n", 4)
	b, err := buildAll(ctx, cfg, root)
	if b != nil {
		defer b.cleanup()
	}
	if err != nil {
		return err
	}
	for key, berr := range b.errs {
		fmt.Fprintf(stderr, "bench: %s: %v\n", key, berr)
	}
	dir, err := os.MkdirTemp("", "reactor-bench-ftp-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	e := &env{cfg: cfg, sup: sup, builds: b, dir: dir}
	if slices.ContainsFunc(loads, func(w workload) bool { return w.TLS }) {
		if e.tls, err = newTLSFiles(); err != nil {
			return err
		}
		defer e.tls.cleanup()
	}

	var bar *progressbar.ProgressBar
	total := cfg.rounds * len(loads) * len(servers)
	if cfg.progress {
		bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("bench"), progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true), progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
	}
	var results []result
	for round := range cfg.rounds {
		for _, w := range loads {
			// Interleave: each round starts the servers at a different one.
			for i := range servers {
				s := servers[(i+round)%len(servers)]
				if bar != nil {
					bar.Describe(fmt.Sprintf("round %d/%d %-9s %-13s", round+1, cfg.rounds, w.Name, s.Name))
				}
				res := e.measure(ctx, s, w, round+1)
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted: %w", ctx.Err())
				}
				if res.Status == statusError {
					if bar != nil {
						bar.Clear()
					}
					fmt.Fprintf(stderr, "bench: %s %s round %d: %s\n", s.Name, w.Name, round+1, res.Reason)
				}
				results = append(results, res)
				if bar != nil {
					bar.Add(1)
				} else if res.Status != statusNA {
					fmt.Fprintf(stderr, "bench: [%d/%d] round %d %s %s: %s\n", len(results), total, round+1, w.Name, s.Name, res.Status)
				}
			}
		}
	}
	if bar != nil {
		bar.Finish()
	}
	rep := newReport(cfg, servers, loads, results, time.Since(start), b.took, loadBefore)
	if err := rep.write(cfg, stdout, stderr); err != nil {
		return err
	}
	return rep.failures(b)
}

// rerender writes the table and chart of a saved -json file.
func rerender(cfg config, stdout, stderr io.Writer) error {
	b, err := os.ReadFile(cfg.from)
	if err != nil {
		return fmt.Errorf("-from: %w", err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("-from %s: %w", cfg.from, err)
	}
	rep.judgeGenerators()
	if cfg.jsonPath == "-" {
		cfg.jsonPath = ""
	}
	return rep.write(cfg, stdout, stderr)
}

// selection returns the servers and workloads the flags chose, in order.
func selection(cfg config) ([]*serverSpec, []workload, error) {
	all := append(builtinServers(), cfg.extras...)
	servers := all
	if len(cfg.servers) > 0 {
		servers = nil
		for _, name := range cfg.servers {
			i := slices.IndexFunc(all, func(s *serverSpec) bool { return s.Name == name })
			if i < 0 {
				return nil, nil, fmt.Errorf("%w: unknown server %q", errUsage, name)
			}
			servers = append(servers, all[i])
		}
	}
	loads := workloads(cfg)
	if len(cfg.workloads) > 0 {
		var chosen []workload
		for _, name := range cfg.workloads {
			i := slices.IndexFunc(loads, func(w workload) bool { return w.Name == name })
			if i < 0 {
				return nil, nil, fmt.Errorf("%w: unknown workload %q", errUsage, name)
			}
			chosen = append(chosen, loads[i])
		}
		loads = chosen
	}
	return servers, loads, nil
}
