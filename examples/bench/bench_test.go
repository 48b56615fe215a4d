package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// badEchoEnv makes the test binary a server that echoes every byte but
// flips one in each read: the harness must catch it.
const badEchoEnv = "BENCH_TEST_BAD_ECHO_PORT"

func TestMain(m *testing.M) {
	if port := os.Getenv(badEchoEnv); port != "" {
		if err := serveBadEcho(port); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func serveBadEcho(port string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				buf[n/2] ^= 0x20
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
	}
}

// smokeConfig is a very short run: each server starts, answers every
// workload it can correctly, and stops.
func smokeConfig(t *testing.T) config {
	t.Helper()
	cfg, err := parseFlags([]string{"-quick", "-progress=false", "-rounds", "1",
		"-duration", "150ms", "-warmup", "30ms", "-conns", "8", "-stream-conns", "24",
		"-clients", "3", "-idle", "40"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.settle, cfg.drain = 50*time.Millisecond, 5*time.Second
	return cfg
}

// leftoverServers lists processes still running a binary from the
// harness's build directory.
func leftoverServers(t *testing.T) []string {
	t.Helper()
	if runtime.GOOS != "linux" {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte("reactor-bench-")) {
			left = append(left, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return left
}

func TestSmokeEveryServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every server")
	}
	cfg := smokeConfig(t)
	dir := t.TempDir()
	cfg.jsonPath = filepath.Join(dir, "results.json")
	cfg.chartPath = filepath.Join(dir, "chart.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, cfg, &stdout, &stderr)
	t.Logf("stderr:\n%s", stderr.String())
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	b, err := os.ReadFile(cfg.jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	ran := map[string]int{}
	for _, r := range rep.Results {
		if r.Status == statusOK {
			ran[r.Server]++
			if r.Ops <= 0 {
				t.Errorf("%s %s: ok with no operations", r.Server, r.Workload)
			}
		}
	}
	for _, s := range builtinServers() {
		if ran[s.Name] == 0 && s.Name != "c-epoll" { // c-epoll needs a C compiler
			t.Errorf("%s ran no workload", s.Name)
		}
	}
	if fi, err := os.Stat(cfg.chartPath); err != nil || fi.Size() == 0 {
		t.Errorf("chart: %v", err)
	}
	tlsRan := map[string]bool{}
	for _, r := range rep.Results {
		if strings.HasPrefix(r.Workload, "tls-") && r.Status == statusOK {
			tlsRan[r.Workload] = true
			if !strings.HasPrefix(r.TLS, "TLS 1.3, ") {
				t.Errorf("%s %s: negotiated %q, want TLS 1.3", r.Server, r.Workload, r.TLS)
			}
		}
	}
	for _, w := range workloads(cfg) {
		if w.TLS && !tlsRan[w.Name] {
			t.Errorf("TLS workload %s did not run", w.Name)
		}
	}
	for _, want := range []string{"Which workloads apply", "n/a (serves 1 at once)", "RSS per idle conn", "n/a (no TLS)", "Negotiated with every server: TLS 1.3", "that TLS adds to the plain churn", "Load generator: **"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if left := leftoverServers(t); len(left) > 0 {
		t.Errorf("server processes left behind:\n%s", strings.Join(left, "\n"))
	}
}

func TestWrongEchoFailsTheRun(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := smokeConfig(t)
	cfg.chartPath = ""
	spec, err := parseExtra("bad=" + self + " -test.run=^$ {port}")
	if err != nil {
		t.Fatal(err)
	}
	// The extra's port reaches it through the environment (TestMain).
	spec.args = func(a serverArgs) []string {
		os.Setenv(badEchoEnv, strconv.Itoa(a.port))
		return []string{"-test.run=^$"}
	}
	t.Cleanup(func() { os.Unsetenv(badEchoEnv) })
	cfg.extras = []*serverSpec{spec}
	cfg.servers, cfg.workloads = []string{"bad"}, []string{"pingpong"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err = run(ctx, cfg, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "answered wrongly") {
		t.Fatalf("run = %v, want a wrong-answer failure\n%s", err, stdout.String())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the run hung")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {0.999, 9990 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d > 0.016 || d < -0.016 {
			t.Errorf("quantile(%v) = %v, want %v ±1.6%%", c.q, got, c.want)
		}
	}
	if got := h.quantile(1); got != 10000*time.Microsecond {
		t.Errorf("max = %v", got)
	}
	var small histogram
	small.record(3)
	if got := small.quantile(0.5); got != 3 {
		t.Errorf("small value = %v, want exact", got)
	}
}

func TestApplicability(t *testing.T) {
	cfg := smokeConfig(t)
	loads := workloads(cfg)
	for _, s := range builtinServers() {
		for _, w := range loads {
			ok, why := applies(s, w)
			if !ok && why == "" {
				t.Errorf("%s %s: n/a without a reason", s.Name, w.Name)
			}
			if s.Name == "serial" && w.simultaneous() && ok {
				t.Errorf("serial applies to %s", w.Name)
			}
			if s.Name == w.baseServer() && !ok {
				t.Errorf("%s does not apply to %s: %s", s.Name, w.Name, why)
			}
			if s.TLS != w.TLS && ok {
				t.Errorf("%s (TLS %v) applies to %s (TLS %v)", s.Name, s.TLS, w.Name, w.TLS)
			}
		}
	}
}
