package main

import (
	"fmt"
	"strings"
)

// Is the load generator the bottleneck it measures?
//
// The harness judges it once per throughput workload, at the fastest server
// (the highest median rate: where the generator had to work hardest), from
// figures every run records: the generator's CPU time over the wall time
// (GenBusy) and per operation (GenCPUus), the server's (ServerBusy,
// ServerCPUus), the machine's CPUs, the generator's loops and the server's
// -server-cpus.
//
// The cores the generator may use are the rest of the machine, as the issue
// puts it: its loops, at most the CPUs less the ones the server is given
// (GOMAXPROCS). Not the CPUs less what the server used: that would count
// the kernel's uncharged work and other people's load on a shared machine
// as cores the generator left idle. When the server may use every CPU they
// share the machine, and the generator may use what the server left.
//
// It is generator-bound when either says it had no headroom:
//
//   - measured: it was busy at least genSaturated (0.9) × the cores it may
//     use; with less than a tenth of them idle it had nothing left to push
//     the server harder (scheduling gaps and the collector keep a saturated
//     generator around 0.9–1.0 of them, not exactly at 1);
//   - projected: the cores it would need to keep that server's own cores
//     busy, its CPU per operation ÷ the server's × the server's cores, are
//     more than it may use. This is the issue's test, "it reaches more than
//     the fastest server needs", and it holds even when other load on the
//     machine kept the generator below 0.9.
//
// Otherwise it is not the bottleneck: it had headroom, so throughput is
// the server's limit (or the round trips' or the machine's). When it
// is generator-bound, throughput and latency are "under this generator" and
// the comparison to read is server CPU per operation, which does not depend
// on how fast operations arrive.
const genSaturated = 0.9

// genLoad is what judging the generator at one server uses.
type genLoad struct {
	CPUs       int     // the machine's CPUs
	GenLoops   int     // the generator's event loops
	ServerCPUs int     // the server's GOMAXPROCS (-server-cpus)
	GenBusy    float64 // generator CPU ÷ wall time
	GenCPUus   float64 // generator CPU per operation, µs
	ServerBusy float64 // server CPU ÷ wall time
	// ServerCPUus is the server's CPU per operation, µs; 0 when its CPU
	// could not be read, and then nothing is projected.
	ServerCPUus float64
}

// genJudgement is judgeGenerator's answer.
type genJudgement struct {
	Known bool // false: the figures needed were not recorded
	// Cores is the CPU the generator may use; Need the CPU it would need
	// to keep the server's cores busy (0: not known).
	Cores, Need float64
	Saturated   bool // busy ≥ genSaturated × Cores
	Short       bool // Need > Cores
}

// Bound reports whether the generator limited the throughput measured.
func (j genJudgement) Bound() bool { return j.Known && (j.Saturated || j.Short) }

// Verdict says it in words: "generator-bound", "not the bottleneck" or,
// when the figures were not recorded, "not judged".
func (j genJudgement) Verdict() string {
	switch {
	case !j.Known:
		return "not judged"
	case j.Bound():
		return "generator-bound"
	}
	return "not the bottleneck"
}

// judgeGenerator decides whether the generator was the bottleneck (see
// genSaturated for the definition).
func judgeGenerator(g genLoad) genJudgement {
	if g.CPUs <= 0 || g.GenLoops <= 0 || g.ServerCPUs <= 0 || g.GenBusy <= 0 {
		return genJudgement{} // older results, or the generator's CPU not read
	}
	rest := float64(g.CPUs - g.ServerCPUs)
	if rest <= 0 { // the server may use every CPU: they share the machine
		rest = float64(g.CPUs) - g.ServerBusy
	}
	j := genJudgement{Cores: min(float64(g.GenLoops), rest)}
	if j.Cores <= 0 {
		return genJudgement{}
	}
	j.Known = true
	j.Saturated = g.GenBusy >= genSaturated*j.Cores
	if g.ServerCPUus > 0 && g.GenCPUus > 0 {
		j.Need = g.GenCPUus / g.ServerCPUus * float64(g.ServerCPUs)
		j.Short = j.Need > j.Cores
	}
	return j
}

// genVerdict is the judgement of the load generator for one throughput
// workload, as the report prints it and -json writes it.
type genVerdict struct {
	Workload string `json:"workload"`
	// Server is the workload's fastest server, where it was judged, and
	// OpsPerSec that server's rate.
	Server    string  `json:"server"`
	OpsPerSec float64 `json:"ops_per_sec"`
	// Verdict is genJudgement.Verdict; Cores is 0 when "not judged".
	Verdict string `json:"verdict"`
	Bound   bool   `json:"generator_bound"`
	// Saturated and Short are the two reasons it can be bound.
	Saturated bool `json:"saturated"`
	Short     bool `json:"short_of_cores"`
	// BusyCores of the Cores it may use; NeedCores to keep the server's
	// ServerCores busy (0: the server's CPU was not read).
	BusyCores       float64 `json:"busy_cores"`
	Cores           float64 `json:"cores"`
	NeedCores       float64 `json:"need_cores,omitempty"`
	ServerBusyCores float64 `json:"server_busy_cores"`
	ServerCores     int     `json:"server_cores"`
	GenCPUus        float64 `json:"gen_cpu_us_per_op"`
	ServerCPUus     float64 `json:"server_cpu_us_per_op"`
}

// judgeGenerators judges the generator in every throughput workload that
// has a server that succeeded. It only reads the summaries and the run's
// description, so a saved run (-from) is judged the same way, old files
// included.
func (r *report) judgeGenerators() {
	r.Generator = nil
	for _, w := range r.Workloads {
		if w.Kind == kindIdle {
			continue
		}
		var fastest *summary
		for i := range r.Summary {
			s := &r.Summary[i]
			if s.Workload == w.Name && s.Status == statusOK && (fastest == nil || s.OpsPerSec > fastest.OpsPerSec) {
				fastest = s
			}
		}
		if fastest == nil {
			continue
		}
		j := judgeGenerator(genLoad{
			CPUs: r.Meta.CPUs, GenLoops: r.Meta.GenLoops, ServerCPUs: r.Meta.ServerCPUs,
			GenBusy: fastest.GenBusy, GenCPUus: fastest.GenCPUus,
			ServerBusy: fastest.ServerBusy, ServerCPUus: fastest.ServerCPUus,
		})
		r.Generator = append(r.Generator, genVerdict{
			Workload: w.Name, Server: fastest.Server, OpsPerSec: fastest.OpsPerSec,
			Verdict: j.Verdict(), Bound: j.Bound(), Saturated: j.Saturated, Short: j.Short,
			BusyCores: fastest.GenBusy, Cores: j.Cores, NeedCores: j.Need,
			ServerBusyCores: fastest.ServerBusy, ServerCores: r.Meta.ServerCPUs,
			GenCPUus: fastest.GenCPUus, ServerCPUus: fastest.ServerCPUus,
		})
	}
}

// generatorNote is the line under a workload's table that says whether the
// load generator was the bottleneck there.
func (r *report) generatorNote(w workload) string {
	var v *genVerdict
	for i := range r.Generator {
		if r.Generator[i].Workload == w.Name {
			v = &r.Generator[i]
		}
	}
	if v == nil {
		return ""
	}
	if v.Cores == 0 {
		return "Load generator: **not judged**: this run did not record the generator's CPU time or the machine's CPUs."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Load generator: **%s**: %.2f of the %s it may use busy", v.Verdict, v.BusyCores, cores(v.Cores))
	if v.Saturated {
		fmt.Fprintf(&b, " (≥ %.1f of them)", genSaturated)
	}
	server := fmt.Sprintf("the fastest server (%s, %s %s/s, %.2f of its %s busy)",
		r.label(v.Server), rate(v.OpsPerSec), w.Unit, v.ServerBusyCores, cores(float64(v.ServerCores)))
	switch {
	case v.NeedCores == 0:
		fmt.Fprintf(&b, " at %s", server)
	case v.Short:
		and := "and"
		if !v.Saturated {
			and = "but"
		}
		fmt.Fprintf(&b, ", %s it would need %.2f to keep %s at full load", and, v.NeedCores, server)
	default:
		fmt.Fprintf(&b, ", and %.2f would keep %s at full load", v.NeedCores, server)
	}
	if v.NeedCores > 0 {
		fmt.Fprintf(&b, " (%.2f µs of CPU per %s against the server's %.2f)", v.GenCPUus, w.Unit, v.ServerCPUus)
	}
	if v.Bound {
		fmt.Fprintf(&b, ". Throughput here is the generator's limit; compare server CPU per %s.", w.Unit)
	} else {
		b.WriteString(". It had headroom: throughput here is not its limit.")
	}
	return b.String()
}

// cores says "1 core", "2 cores" or "1.25 cores".
func cores(v float64) string {
	switch {
	case v == 1:
		return "1 core"
	case v == float64(int(v)):
		return fmt.Sprintf("%d cores", int(v))
	}
	return fmt.Sprintf("%.2f cores", v)
}
