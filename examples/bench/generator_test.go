package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJudgeGenerator(t *testing.T) {
	for _, c := range []struct {
		name string
		in   genLoad
		// want
		known, saturated, short, bound bool
		cores, need                    float64
	}{
		{
			name:  "2 CPUs, ping-pong of 2026-11-25: saturated and short",
			in:    genLoad{CPUs: 2, GenLoops: 2, ServerCPUs: 1, GenBusy: 0.94, GenCPUus: 6.10, ServerBusy: 0.93, ServerCPUus: 5.96},
			known: true, saturated: true, short: true, bound: true, cores: 1, need: 6.10 / 5.96,
		},
		{
			name:  "2 CPUs, pipelined of 2026-11-25: just under 0.9 busy, but short",
			in:    genLoad{CPUs: 2, GenLoops: 2, ServerCPUs: 1, GenBusy: 0.8955, GenCPUus: 0.40, ServerBusy: 0.85, ServerCPUus: 0.38},
			known: true, short: true, bound: true, cores: 1, need: 0.40 / 0.38,
		},
		{
			name:  "busy exactly 0.9 of its cores is saturated",
			in:    genLoad{CPUs: 3, GenLoops: 2, ServerCPUs: 1, GenBusy: 1.8, GenCPUus: 1, ServerBusy: 0.5, ServerCPUus: 1},
			known: true, saturated: true, bound: true, cores: 2, need: 1,
		},
		{
			name:  "8 CPUs: headroom",
			in:    genLoad{CPUs: 8, GenLoops: 8, ServerCPUs: 1, GenBusy: 1.2, GenCPUus: 6.9, ServerBusy: 0.98, ServerCPUus: 5.8},
			known: true, cores: 7, need: 6.9 / 5.8,
		},
		{
			name:  "its loops, not the free CPUs, are the limit",
			in:    genLoad{CPUs: 8, GenLoops: 2, ServerCPUs: 1, GenBusy: 1.9, GenCPUus: 2, ServerBusy: 0.9, ServerCPUus: 1},
			known: true, saturated: true, bound: true, cores: 2, need: 2,
		},
		{
			name:  "server and generator both at their limit: no headroom, bound",
			in:    genLoad{CPUs: 4, GenLoops: 4, ServerCPUs: 1, GenBusy: 2.8, GenCPUus: 2.9, ServerBusy: 0.99, ServerCPUus: 1},
			known: true, saturated: true, bound: true, cores: 3, need: 2.9,
		},
		{
			name:  "more cores needed for a server at -server-cpus 2",
			in:    genLoad{CPUs: 8, GenLoops: 8, ServerCPUs: 2, GenBusy: 3, GenCPUus: 7, ServerBusy: 0.8, ServerCPUus: 2},
			known: true, short: true, bound: true, cores: 6, need: 7,
		},
		{
			name:  "server may use every CPU: the generator gets what it left",
			in:    genLoad{CPUs: 2, GenLoops: 2, ServerCPUs: 2, GenBusy: 0.3, GenCPUus: 1, ServerBusy: 1.5, ServerCPUus: 5},
			known: true, cores: 0.5, need: 0.4,
		},
		{
			name: "server used every CPU: nothing to judge against",
			in:   genLoad{CPUs: 2, GenLoops: 2, ServerCPUs: 4, GenBusy: 0.3, GenCPUus: 1, ServerBusy: 2, ServerCPUus: 5},
		},
		{
			name:  "server CPU not read: saturation alone decides",
			in:    genLoad{CPUs: 4, GenLoops: 4, ServerCPUs: 1, GenBusy: 1, GenCPUus: 3},
			known: true, cores: 3,
		},
		{
			name:  "server CPU not read, generator saturated",
			in:    genLoad{CPUs: 2, GenLoops: 2, ServerCPUs: 1, GenBusy: 1, GenCPUus: 3},
			known: true, saturated: true, bound: true, cores: 1,
		},
		{
			name: "generator CPU not recorded",
			in:   genLoad{CPUs: 2, GenLoops: 2, ServerCPUs: 1, ServerBusy: 0.9, ServerCPUus: 5},
		},
		{
			name: "run description missing",
			in:   genLoad{GenBusy: 1, GenCPUus: 6, ServerBusy: 0.9, ServerCPUus: 5},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			j := judgeGenerator(c.in)
			if j.Known != c.known || j.Saturated != c.saturated || j.Short != c.short || j.Bound() != c.bound {
				t.Errorf("known %v saturated %v short %v bound %v, want %v %v %v %v",
					j.Known, j.Saturated, j.Short, j.Bound(), c.known, c.saturated, c.short, c.bound)
			}
			verdict := "not the bottleneck"
			switch {
			case !c.known:
				verdict = "not judged"
			case c.bound:
				verdict = "generator-bound"
			}
			if j.Verdict() != verdict {
				t.Errorf("verdict %q, want %q", j.Verdict(), verdict)
			}
			if math.Abs(j.Cores-c.cores) > 1e-9 || math.Abs(j.Need-c.need) > 1e-9 {
				t.Errorf("cores %v need %v, want %v %v", j.Cores, j.Need, c.cores, c.need)
			}
		})
	}
}

// TestSavedResultsRender re-renders every saved run: each throughput
// workload gets a verdict on the generator, older files included.
func TestSavedResultsRender(t *testing.T) {
	files, err := filepath.Glob("results/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no saved results: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := rerender(config{from: f}, &stdout, &stderr); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			var rep report
			b, _ := os.ReadFile(f)
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, w := range rep.Workloads {
				if w.Kind != kindIdle {
					want++
				}
			}
			if got := strings.Count(stdout.String(), "Load generator: **"); got != want {
				t.Errorf("%d verdicts on the generator for %d throughput workloads:\n%s", got, want, stdout.String())
			}
		})
	}
}

// TestOldResultsJudged re-renders a file written before the verdict
// existed, one of whose workloads lacks the generator's CPU, and checks the
// table and the -json output both carry the verdict.
func TestOldResultsJudged(t *testing.T) {
	const old = `{
  "meta": {"date": "2026-11-01 10:00 UTC", "cpus": 2, "server_cpus": 1, "gen_loops": 2, "rounds": 1},
  "servers": [{"name": "reactor", "label": "reactor (epoll)"}],
  "workloads": [
    {"name": "pingpong", "kind": 0, "unit": "msg"},
    {"name": "churn", "kind": 1, "unit": "conn"},
    {"name": "idle", "kind": 2, "unit": "conn"}
  ],
  "summary": [
    {"server": "reactor", "workload": "pingpong", "status": "ok", "rounds_ok": 1, "ops_per_sec": 136000,
     "server_cpu_us_per_op": 5.78, "server_busy_cores": 0.78, "gen_cpu_us_per_op": 6.89, "gen_busy_cores": 0.94},
    {"server": "reactor", "workload": "churn", "status": "ok", "rounds_ok": 1, "ops_per_sec": 19000,
     "server_cpu_us_per_op": 27.7, "server_busy_cores": 0.5},
    {"server": "reactor", "workload": "idle", "status": "ok", "rounds_ok": 1, "idle_rss_bytes_per_conn": 569}
  ]
}`
	dir := t.TempDir()
	in, out := filepath.Join(dir, "old.json"), filepath.Join(dir, "new.json")
	if err := os.WriteFile(in, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := rerender(config{from: in, jsonPath: out}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Load generator: **generator-bound**: 0.94 of the 1 core it may use busy (≥ 0.9 of them), and it would need 1.19",
		"Load generator: **not judged**",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Generator) != 2 {
		t.Fatalf("-json has %d verdicts, want 2 (idle has none): %+v", len(rep.Generator), rep.Generator)
	}
	if v := rep.Generator[0]; v.Workload != "pingpong" || v.Verdict != "generator-bound" || !v.Bound || v.Cores != 1 {
		t.Errorf("pingpong: %+v", v)
	}
	if v := rep.Generator[1]; v.Workload != "churn" || v.Verdict != "not judged" || v.Bound {
		t.Errorf("churn: %+v", v)
	}
}
