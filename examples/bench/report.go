package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// summary is one server under one workload over all rounds: the median of
// each figure over the rounds that succeeded, and the best round.
type summary struct {
	Server   string `json:"server"`
	Workload string `json:"workload"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	Rounds   int    `json:"rounds_ok"`

	OpsPerSec        float64 `json:"ops_per_sec"`
	BestOpsPerSec    float64 `json:"best_ops_per_sec"`
	P50us            float64 `json:"p50_us"`
	P99us            float64 `json:"p99_us"`
	P999us           float64 `json:"p999_us"`
	ServerCPUus      float64 `json:"server_cpu_us_per_op"`
	BestServerCPUus  float64 `json:"best_server_cpu_us_per_op"`
	ServerBusy       float64 `json:"server_busy_cores"`
	GenCPUus         float64 `json:"gen_cpu_us_per_op"`
	GenBusy          float64 `json:"gen_busy_cores"`
	PeakRSS          int64   `json:"peak_rss_bytes"`
	IdleBytesPerConn float64 `json:"idle_rss_bytes_per_conn,omitempty"`
	// CPURatio and ThroughputRatio compare with the native reactor in the
	// same run (median over median); 0 when either is missing.
	CPURatio        float64 `json:"cpu_ratio_to_reactor,omitempty"`
	ThroughputRatio float64 `json:"throughput_ratio_to_reactor,omitempty"`
	IdleRatio       float64 `json:"idle_ratio_to_reactor,omitempty"`
	// TLS is what the connections negotiated (TLS workloads).
	TLS string `json:"tls,omitempty"`
}

// meta describes the run.
type meta struct {
	Date       string  `json:"date"`
	GoVersion  string  `json:"go_version"`
	OS         string  `json:"os"`
	Arch       string  `json:"arch"`
	CPUs       int     `json:"cpus"`
	CPUModel   string  `json:"cpu_model,omitempty"`
	Kernel     string  `json:"kernel,omitempty"`
	Rounds     int     `json:"rounds"`
	Quick      bool    `json:"quick"`
	ServerCPUs int     `json:"server_cpus"`
	GenLoops   int     `json:"gen_loops"`
	Seconds    float64 `json:"seconds"`
	BuildSecs  float64 `json:"build_seconds"`
	// LoadBefore and LoadAfter are the 1-minute load averages when the run
	// started and ended: other work on a shared machine shows there.
	LoadBefore string `json:"load_before,omitempty"`
	LoadAfter  string `json:"load_after,omitempty"`
}

// report is everything the harness writes.
type report struct {
	Meta      meta          `json:"meta"`
	Servers   []*serverSpec `json:"servers"`
	Workloads []workload    `json:"workloads"`
	Results   []result      `json:"results"`
	Summary   []summary     `json:"summary"`
	// Generator says, per throughput workload, whether the load generator
	// was the bottleneck (see genSaturated). Recomputed from the summaries
	// when a saved run is re-rendered: older files lack it.
	Generator []genVerdict `json:"generator,omitempty"`
}

func newReport(cfg config, servers []*serverSpec, loads []workload, results []result, took, build time.Duration, loadBefore string) *report {
	r := &report{
		Meta: meta{
			Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), GoVersion: runtime.Version(),
			OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), CPUModel: cpuModel(), Kernel: kernel(),
			Rounds: cfg.rounds, Quick: cfg.quick, ServerCPUs: cfg.serverCPUs, GenLoops: cfg.genLoops,
			Seconds: took.Seconds(), BuildSecs: build.Seconds(),
			LoadBefore: loadBefore, LoadAfter: loadAverage(),
		},
		Servers: servers, Workloads: loads, Results: results,
	}
	for _, w := range loads {
		var base *summary
		first := len(r.Summary)
		for _, s := range servers {
			sum := summarize(s.Name, w.Name, results)
			r.Summary = append(r.Summary, sum)
		}
		for i := first; i < len(r.Summary); i++ {
			if r.Summary[i].Server == w.baseServer() && r.Summary[i].Status == statusOK {
				base = &r.Summary[i]
			}
		}
		if base == nil {
			continue
		}
		for i := first; i < len(r.Summary); i++ {
			s := &r.Summary[i]
			if s.Status != statusOK {
				continue
			}
			if base.ServerCPUus > 0 && s.ServerCPUus > 0 {
				s.CPURatio = s.ServerCPUus / base.ServerCPUus
			}
			if base.OpsPerSec > 0 && s.OpsPerSec > 0 {
				s.ThroughputRatio = s.OpsPerSec / base.OpsPerSec
			}
			if base.IdleBytesPerConn > 0 && s.IdleBytesPerConn > 0 {
				s.IdleRatio = s.IdleBytesPerConn / base.IdleBytesPerConn
			}
		}
	}
	r.judgeGenerators()
	return r
}

// summarize reduces one server's rounds under one workload.
func summarize(server, load string, results []result) summary {
	s := summary{Server: server, Workload: load, Status: statusNA}
	var ok []result
	for _, r := range results {
		if r.Server != server || r.Workload != load {
			continue
		}
		switch r.Status {
		case statusOK:
			ok = append(ok, r)
		case statusError:
			s.Status, s.Reason = statusError, r.Reason
		case statusNA:
			if s.Status == statusNA {
				s.Reason = r.Reason
			}
		}
	}
	if len(ok) == 0 {
		return s
	}
	if s.Status != statusError {
		s.Status, s.Reason = statusOK, ""
	}
	s.Rounds = len(ok)
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(ok))
		for i, r := range ok {
			v[i] = f(r)
		}
		return median(v)
	}
	s.OpsPerSec = pick(func(r result) float64 { return r.OpsPerSec })
	s.P50us = pick(func(r result) float64 { return r.P50us })
	s.P99us = pick(func(r result) float64 { return r.P99us })
	s.P999us = pick(func(r result) float64 { return r.P999us })
	s.ServerCPUus = pick(func(r result) float64 { return r.ServerCPUus })
	s.ServerBusy = pick(func(r result) float64 { return r.ServerBusy })
	s.GenCPUus = pick(func(r result) float64 { return r.GenCPUus })
	s.GenBusy = pick(func(r result) float64 { return r.GenBusy })
	s.PeakRSS = int64(pick(func(r result) float64 { return float64(r.PeakRSS) }))
	s.IdleBytesPerConn = pick(func(r result) float64 { return r.IdleBytesPerConn })
	for _, r := range ok {
		if r.TLS != "" {
			s.TLS = r.TLS
			break
		}
	}
	for i, r := range ok {
		if i == 0 || r.OpsPerSec > s.BestOpsPerSec {
			s.BestOpsPerSec = r.OpsPerSec
		}
		if i == 0 || r.ServerCPUus < s.BestServerCPUus {
			s.BestServerCPUus = r.ServerCPUus
		}
	}
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// find returns the summary of server under load.
func (r *report) find(server, load string) *summary {
	for i := range r.Summary {
		if r.Summary[i].Server == server && r.Summary[i].Workload == load {
			return &r.Summary[i]
		}
	}
	return nil
}

// write prints the tables (or the JSON) and writes the chart and JSON files.
func (r *report) write(cfg config, stdout, stderr io.Writer) error {
	var errs []error
	if cfg.jsonPath != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return fmt.Errorf("json: %w", err)
		}
		b = append(b, '\n')
		if cfg.jsonPath == "-" {
			_, err = stdout.Write(b)
		} else {
			err = os.WriteFile(cfg.jsonPath, b, 0o644)
			fmt.Fprintf(stderr, "bench: results written to %s\n", cfg.jsonPath)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("json: %w", err))
		}
	}
	if cfg.jsonPath != "-" {
		if _, err := io.WriteString(stdout, r.markdown()); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.chartPath != "" {
		if err := r.chart(cfg.chartPath); errors.Is(err, errNothingToDraw) {
			fmt.Fprintf(stderr, "bench: no chart: %v\n", err)
		} else if err != nil {
			errs = append(errs, fmt.Errorf("chart: %w", err))
		} else {
			fmt.Fprintf(stderr, "bench: chart written to %s\n", cfg.chartPath)
		}
	}
	return errors.Join(errs...)
}

// label returns a server's table name.
func (r *report) label(name string) string {
	for _, s := range r.Servers {
		if s.Name == name {
			return s.Label
		}
	}
	return name
}

// markdown renders the applicability table and one table per workload.
func (r *report) markdown() string {
	var b strings.Builder
	m := r.Meta
	fmt.Fprintf(&b, "## reactor bench, %s\n\n", m.Date)
	fmt.Fprintf(&b, "%s/%s, %d CPUs (%s), %s, kernel %s. Servers: GOMAXPROCS=%d and %d loop(s) each; load generator: reactor, %d loops, unpinned. ",
		m.OS, m.Arch, m.CPUs, orDash(m.CPUModel), m.GoVersion, orDash(m.Kernel), m.ServerCPUs, m.ServerCPUs, m.GenLoops)
	fmt.Fprintf(&b, "%d interleaved round(s); figures are medians over rounds (best in the notes). Run took %.0f s (builds %.0f s); load average %s before, %s after.\n\n",
		m.Rounds, m.Seconds, m.BuildSecs, orDash(m.LoadBefore), orDash(m.LoadAfter))

	b.WriteString("### Which workloads apply\n\n| server |")
	for _, w := range r.Workloads {
		fmt.Fprintf(&b, " %s |", w.Name)
	}
	b.WriteString("\n|---|")
	for range r.Workloads {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, s := range r.Servers {
		fmt.Fprintf(&b, "| %s |", s.Label)
		for _, w := range r.Workloads {
			sum := r.find(s.Name, w.Name)
			switch {
			case sum == nil:
				b.WriteString(" – |")
			case sum.Status == statusOK:
				b.WriteString(" yes |")
			case sum.Status == statusError:
				b.WriteString(" **failed** |")
			default:
				fmt.Fprintf(&b, " n/a (%s) |", sum.Reason)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")

	for _, w := range r.Workloads {
		fmt.Fprintf(&b, "### %s: %s\n\n", w.Name, w.Title)
		if w.Kind == kindIdle {
			b.WriteString("| server | RSS per idle conn | × reactor | peak RSS |\n|---|---:|---:|---:|\n")
		} else {
			fmt.Fprintf(&b, "| server | %s/s | p50 µs | p99 µs | p99.9 µs | server CPU µs/%s | × reactor CPU | × reactor rate | server cores | peak RSS |\n",
				w.Unit, w.Unit)
			b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		}
		var genNote []string
		for _, s := range r.Servers {
			sum := r.find(s.Name, w.Name)
			if sum == nil || sum.Status == statusNA {
				continue
			}
			if sum.Status == statusError && sum.Rounds == 0 {
				fmt.Fprintf(&b, "| %s | failed: %s |\n", s.Label, oneLine(sum.Reason))
				continue
			}
			if w.Kind == kindIdle {
				fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", s.Label, bytesStr(sum.IdleBytesPerConn), ratio(sum.IdleRatio), mib(sum.PeakRSS))
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %.0f | %.2f | %s | %s | %.2f | %s |\n",
				s.Label, rate(sum.OpsPerSec), sum.P50us, sum.P99us, sum.P999us, sum.ServerCPUus,
				ratio(sum.CPURatio), ratio(sum.ThroughputRatio), sum.ServerBusy, mib(sum.PeakRSS))
			if r.Meta.Rounds > 1 {
				genNote = append(genNote, fmt.Sprintf("%s best %s/s, %.2f µs", s.Name, rate(sum.BestOpsPerSec), sum.BestServerCPUus))
			}
		}
		if w.Kind != kindIdle {
			if g := r.generatorNote(w); g != "" {
				fmt.Fprintf(&b, "\n%s\n", g)
			}
			if len(genNote) > 0 {
				fmt.Fprintf(&b, "\nBest rounds: %s.\n", strings.Join(genNote, "; "))
			}
		}
		if n := r.tlsNote(w); n != "" {
			fmt.Fprintf(&b, "\n%s\n", n)
		}
		if n := r.handshakeNote(w); n != "" {
			fmt.Fprintf(&b, "\n%s\n", n)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// tlsNote says what a TLS workload's connections negotiated.
func (r *report) tlsNote(w workload) string {
	if !w.TLS {
		return ""
	}
	seen := map[string][]string{}
	var order []string
	for _, s := range r.Summary {
		if s.Workload == w.Name && s.TLS != "" {
			if _, ok := seen[s.TLS]; !ok {
				order = append(order, s.TLS)
			}
			seen[s.TLS] = append(seen[s.TLS], s.Server)
		}
	}
	switch len(order) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("Negotiated with every server: %s; ECDSA P-256 certificate; full handshakes only (no client session cache; a resumed session fails the run).", order[0])
	}
	var parts []string
	for _, t := range order {
		parts = append(parts, fmt.Sprintf("%s: %s", strings.Join(seen[t], ", "), t))
	}
	return "Negotiated: " + strings.Join(parts, "; ") + "."
}

// handshakeNote, under a TLS churn workload, subtracts each TLS server's
// plaintext peer's CPU per connection in the plain churn workload of the
// same run: what the TLS handshake (and the record layer of one echo and
// close_notify) adds per connection.
func (r *report) handshakeNote(w workload) string {
	if !w.TLS || w.Kind != kindChurn {
		return ""
	}
	var plain *workload
	for i := range r.Workloads {
		if pw := &r.Workloads[i]; !pw.TLS && pw.Kind == kindChurn && pw.Size == w.Size && pw.Conns == w.Conns {
			plain = pw
		}
	}
	if plain == nil {
		return ""
	}
	var parts []string
	for _, s := range r.Servers {
		if !s.TLS || s.Plain == "" {
			continue
		}
		t, p := r.find(s.Name, w.Name), r.find(s.Plain, plain.Name)
		if t == nil || p == nil || t.Status != statusOK || p.Status != statusOK || t.ServerCPUus == 0 || p.ServerCPUus == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f µs (%.0f − %.0f for %s)", s.Name, t.ServerCPUus-p.ServerCPUus, t.ServerCPUus, p.ServerCPUus, s.Plain))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("Server CPU per connection that TLS adds to the plain %s workload of this run (the handshake, one echo's records, close_notify): %s.", plain.Name, strings.Join(parts, "; "))
}

// failures returns an error naming every measurement that failed and every
// Go server that did not build; n/a is not a failure.
func (r *report) failures(b *builds) error {
	var errs []error
	for key, err := range b.errs {
		if !errors.Is(err, errUnavailable) {
			errs = append(errs, fmt.Errorf("%s did not build: %w", key, err))
		}
	}
	for _, res := range r.Results {
		if res.Status == statusError {
			what := "failed"
			if res.Mismatch {
				what = "answered wrongly"
			}
			errs = append(errs, fmt.Errorf("%s %s (round %d) %s: %s", res.Server, res.Workload, res.Round, what, res.Reason))
		}
	}
	return errors.Join(errs...)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

func ratio(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func mib(v int64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20))
}

func bytesStr(v float64) string {
	if v >= 4<<10 {
		return fmt.Sprintf("%.1f KiB", v/1024)
	}
	return fmt.Sprintf("%.0f B", v)
}

// cpuModel returns the processor's name from /proc/cpuinfo, if there is one.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAverage returns the 1-minute load average (/proc/loadavg), if known.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f, _, _ := strings.Cut(string(b), " ")
	return f
}

// kernel returns the kernel release (uname -r).
func kernel() string {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
