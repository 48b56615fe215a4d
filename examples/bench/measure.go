package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"syscall"
	"time"

	"github.com/reactorkit/reactor/loop"
)

// Status of one measurement.
const (
	statusOK    = "ok"
	statusNA    = "n/a"
	statusError = "error"
)

// result is one measurement of one server under one workload.
type result struct {
	Server   string `json:"server"`
	Workload string `json:"workload"`
	Round    int    `json:"round"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	// Mismatch: the server answered wrongly (the run fails).
	Mismatch bool `json:"mismatch,omitempty"`

	Ops       int64   `json:"ops"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	P999us    float64 `json:"p999_us"`
	// ServerCPUus is the server's CPU time (user+system, children
	// included) per operation, in microseconds.
	ServerCPUus float64 `json:"server_cpu_us_per_op"`
	// ServerBusy is the server's CPU time over wall time: 1.0 is one core.
	ServerBusy float64 `json:"server_busy_cores"`
	// GenCPUus is the load generator's own CPU time per operation.
	GenCPUus float64 `json:"gen_cpu_us_per_op"`
	// GenBusy is the load generator's CPU time over wall time.
	GenBusy float64 `json:"gen_busy_cores"`
	PeakRSS int64   `json:"peak_rss_bytes"`
	// IdleBytesPerConn is the idle workload's server RSS rise per connection.
	IdleBytesPerConn float64 `json:"idle_rss_bytes_per_conn,omitempty"`
	// TLS is what the TLS workloads' connections negotiated (version,
	// cipher suite, key exchange), as the generator saw it.
	TLS string `json:"tls,omitempty"`
}

// env is what every measurement needs.
type env struct {
	cfg    config
	sup    *supervisor
	builds *builds
	dir    string    // the FTP servers' directory (the PWD reply names it)
	tls    *tlsFiles // the TLS servers' certificate; nil when no TLS workload runs
}

// measure runs one server under one workload: a fresh server process, a
// fresh generator, every step bounded in time.
func (e *env) measure(ctx context.Context, s *serverSpec, w workload, round int) result {
	res := result{Server: s.Name, Workload: w.Name, Round: round, Status: statusOK}
	if ok, why := applies(s, w); !ok {
		res.Status, res.Reason = statusNA, why
		return res
	}
	bin := e.builds.paths[s.Binary]
	if s.command != nil {
		bin = s.command[0]
	} else if bin == "" {
		err := e.builds.errs[s.Binary]
		res.Status, res.Reason = statusError, fmt.Sprintf("not built: %v", err)
		if errors.Is(err, errUnavailable) {
			res.Status = statusNA
		}
		return res
	}
	if err := e.run(ctx, s, w, bin, &res); err != nil {
		res.Status, res.Reason = statusError, err.Error()
		res.Mismatch = errors.Is(err, errMismatch)
	}
	return res
}

// run does the measurement proper and fills res.
func (e *env) run(ctx context.Context, s *serverSpec, w workload, bin string, res *result) (err error) {
	a := serverArgs{proto: w.Proto, dir: e.dir, cpus: e.cfg.serverCPUs}
	var dialOpts []loop.Option
	if w.TLS {
		if e.tls == nil {
			return errors.New("no TLS certificate") // run makes one when a TLS workload is chosen
		}
		a.certFile, a.keyFile = e.tls.certFile, e.tls.keyFile
		dialOpts = append(dialOpts, loop.WithTLS(e.tls.client))
	}
	p, err := startServer(ctx, e.sup, s, bin, a)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, p.stop()) }()
	baseRSS, _ := p.rss()

	gen, err := loop.NewServer(
		loop.WithLoops(e.cfg.genLoops),
		loop.WithConnectTimeout(5*time.Second),
		loop.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	if err != nil {
		return fmt.Errorf("load generator: %w", err)
	}
	r := newLoadRun(ctx, w, p.addr, e.dir, len(gen.Loops()))
	r.dialOpts = dialOpts
	defer func() {
		r.aborting.Store(true)
		gen.Close()
		if err == nil {
			err = r.failure()
		}
	}()

	switch w.Kind {
	case kindEcho, kindIdle:
		if err := dialAll(ctx, gen, r, &echoProto{r: r}, w.Conns, 32); err != nil {
			return errors.Join(r.failure(), err)
		}
	case kindChurn, kindSession:
		if err := startSlots(gen, r, w.Conns); err != nil {
			return err
		}
	}
	if w.Kind == kindIdle {
		err := e.idle(ctx, p, r, baseRSS, res)
		res.TLS = r.tlsState()
		return err
	}
	if w.Kind == kindEcho {
		// Every connection is being served before the clock starts: a
		// process per connection takes seconds to start a hundred.
		if err := e.allReady(ctx, p, r); err != nil {
			return err
		}
	}

	// Warm up, then measure between two readings of everyone's CPU time.
	if err := e.wait(ctx, p, r, e.cfg.warmup); err != nil {
		return err
	}
	var ru0, ru1 syscall.Rusage
	r.phase.Store(phaseMeasure)
	t0 := time.Now()
	cpu0, cpuErr := p.cpu()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	peak := int64(0)
	if err := e.sample(ctx, p, r, w.Duration, &peak); err != nil {
		return err
	}
	r.stop()
	cpu1, cpuErr1 := p.cpu()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	wall := time.Since(t0)
	if rss, err := p.rss(); err == nil {
		peak = max(peak, rss)
	}
	if hwm, err := p.hwm(); err == nil {
		peak = max(peak, hwm)
	}

	// Let every connection collect its last replies.
	select {
	case <-r.finished:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(e.cfg.drain):
		if err := r.failure(); err != nil {
			return err
		}
		return fmt.Errorf("stalled: %d connections still waiting for replies %v after the end", r.active.Load(), e.cfg.drain)
	}
	if err := r.failure(); err != nil {
		return err
	}
	// Stopping the generator's loops publishes their stats to us.
	r.aborting.Store(true)
	gen.Close()
	var h histogram
	for i := range r.stats {
		h.merge(&r.stats[i].hist)
		res.Ops += r.stats[i].ops
	}
	if res.Ops == 0 {
		return fmt.Errorf("no %s completed in %v", w.Unit, wall)
	}
	res.Seconds = wall.Seconds()
	res.OpsPerSec = float64(res.Ops) / wall.Seconds()
	res.P50us = us(h.quantile(0.50))
	res.P99us = us(h.quantile(0.99))
	res.P999us = us(h.quantile(0.999))
	if cpuErr == nil && cpuErr1 == nil && cpu1 >= cpu0 {
		res.ServerCPUus = us(cpu1-cpu0) / float64(res.Ops)
		res.ServerBusy = (cpu1 - cpu0).Seconds() / wall.Seconds()
	}
	gen1 := rusageCPU(&ru1) - rusageCPU(&ru0)
	res.GenCPUus = us(gen1) / float64(res.Ops)
	res.GenBusy = gen1.Seconds() / wall.Seconds()
	res.PeakRSS = peak
	res.TLS = r.tlsState()
	return nil
}

// allReady waits until every connection has had its first answer.
func (e *env) allReady(ctx context.Context, p *serverProc, r *loadRun) error {
	const limit = 30 * time.Second
	deadline := time.Now().Add(limit)
	for r.ready.Load() < int64(r.w.Conns) {
		if err := e.wait(ctx, p, r, 10*time.Millisecond); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d connections answered within %v", r.ready.Load(), r.w.Conns, limit)
		}
	}
	return nil
}

// idle waits for every connection to have echoed its message, lets the
// server settle, and reads its memory.
func (e *env) idle(ctx context.Context, p *serverProc, r *loadRun, baseRSS int64, res *result) error {
	if err := e.allReady(ctx, p, r); err != nil {
		return err
	}
	if err := e.wait(ctx, p, r, e.cfg.settle); err != nil {
		return err
	}
	rss, err := p.rss()
	if err != nil {
		return err
	}
	hwm, _ := p.hwm()
	res.Ops = int64(r.w.Conns)
	res.PeakRSS = max(rss, hwm)
	res.IdleBytesPerConn = float64(rss-baseRSS) / float64(r.w.Conns)
	return nil
}

// wait sleeps d while watching for a failure, a dead server or ctx.
func (e *env) wait(ctx context.Context, p *serverProc, r *loadRun, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return r.failure()
		case <-p.exited:
			return fmt.Errorf("server exited (%v): %s", p.waitErr, p.out.String())
		case <-tick.C:
			if err := r.failure(); err != nil {
				return err
			}
		}
	}
}

// sample waits d like wait, sampling a multi-process server's memory for
// its peak and failing if no operation completes for stallAfter.
func (e *env) sample(ctx context.Context, p *serverProc, r *loadRun, d time.Duration, peak *int64) error {
	const stallAfter = 5 * time.Second
	end := time.Now().Add(d)
	lastOps, lastMove := r.ops.Load(), time.Now()
	for time.Now().Before(end) {
		if err := e.wait(ctx, p, r, min(200*time.Millisecond, time.Until(end))); err != nil {
			return err
		}
		if p.spec.MultiProcess {
			if rss, err := p.rss(); err == nil {
				*peak = max(*peak, rss)
			}
		}
		if ops := r.ops.Load(); ops != lastOps {
			lastOps, lastMove = ops, time.Now()
		} else if time.Since(lastMove) > stallAfter {
			return fmt.Errorf("stalled: no %s completed for %v", r.w.Unit, stallAfter)
		}
	}
	return nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func rusageCPU(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// genLoopsDefault leaves the generator every CPU: the servers are limited
// by GOMAXPROCS, the generator is not pinned.
func genLoopsDefault() int { return runtime.NumCPU() }
