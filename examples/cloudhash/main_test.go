package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/reactorkit/reactor/internal/testtool"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// buildBinary builds this command once per test into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cloudhash")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// server is the example running as a child process.
type server struct {
	cmd                *exec.Cmd
	line, length, resp string
	poller             string // the backend the server printed
	stderr             *testtool.SyncBuffer
	done               chan error
}

// startChild runs `cloudhash serve` on free ports and waits for its ready
// line.
func startChild(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "-line", "127.0.0.1:0", "-length", "127.0.0.1:0", "-resp", "127.0.0.1:0", "-loops", "2"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &testtool.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready ") {
				ready <- sc.Text()
			}
		}
		close(ready)
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	select {
	case line, ok := <-ready:
		if !ok {
			t.Fatalf("server exited before it was ready:\n%s", s.stderr)
		}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "line":
				s.line = v
			case "length":
				s.length = v
			case "resp":
				s.resp = v
			case "poller":
				s.poller = v
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("server not ready:\n%s", s.stderr)
	}
	if s.poller == "" {
		t.Errorf("the server did not print its poller backend")
	}
	return s
}

// stop sends sig and waits for a clean exit.
func (s *server) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	s.cmd.Process.Signal(sig)
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("server exited with %v:\n%s", err, s.stderr)
		}
		s.done <- err
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not stop on %v", sig)
	}
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("cloudhash %q: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestSnapshotSurvivesSIGTERM: data written over every protocol is saved on
// SIGTERM (and SIGINT) and loaded by the next start; the get/set
// subcommands use the client.
func TestSnapshotSurvivesSIGTERM(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "cloudhash.snap")
	s := startChild(t, bin, "-data", data)
	if got := run(t, bin, "set", "-addr", s.line, "prez", "obama"); got != "obama\n" {
		t.Errorf("set: %q", got)
	}
	if got := run(t, bin, "get", "-addr", s.line, "prez"); got != "obama\n" {
		t.Errorf("get: %q", got)
	}
	if got := run(t, bin, "get", "-framing", "length", "-addr", s.length, "prez"); got != "obama\n" {
		t.Errorf("get over length-prefixed: %q", got)
	}
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: s.resp})
	defer rdb.Close()
	if err := rdb.Set(ctx, "ttl", "t", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		rdb.Set(ctx, fmt.Sprint("k", i), i, 0)
	}
	rdb.Close()
	s.stop(t, syscall.SIGTERM)
	if _, err := os.Stat(data); err != nil {
		t.Fatalf("no snapshot after SIGTERM: %v\n%s", err, s.stderr)
	}

	s2 := startChild(t, bin, "-data", data)
	if got := run(t, bin, "get", "-addr", s2.line, "prez"); got != "obama\n" {
		t.Errorf("after restart: %q", got)
	}
	rdb2 := redis.NewClient(&redis.Options{Addr: s2.resp})
	defer rdb2.Close()
	if n := rdb2.DBSize(ctx).Val(); n != 1002 {
		t.Errorf("after restart DBSIZE = %d, want 1002", n)
	}
	if ttl := rdb2.TTL(ctx, "ttl").Val(); ttl < 59*time.Minute {
		t.Errorf("expiry lost across restart: %v", ttl)
	}
	rdb2.Del(ctx, "k0")
	rdb2.Close()
	s2.stop(t, syscall.SIGINT)

	s3 := startChild(t, bin, "-data", data)
	rdb3 := redis.NewClient(&redis.Options{Addr: s3.resp})
	defer rdb3.Close()
	if n := rdb3.DBSize(ctx).Val(); n != 1001 {
		t.Errorf("after SIGINT and restart DBSIZE = %d, want 1001", n)
	}
}

// TestCorruptSnapshotRefused: the example will not start from a damaged
// snapshot, and says why.
func TestCorruptSnapshotRefused(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "cloudhash.snap")
	s := startChild(t, bin, "-data", data)
	run(t, bin, "set", "-addr", s.line, "k", "v")
	s.stop(t, syscall.SIGTERM)
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(data, b[:len(b)-3], 0o600)
	out, err := exec.Command(bin, "serve", "-data", data, "-line", "127.0.0.1:0", "-length", "", "-resp", "").CombinedOutput()
	if err == nil {
		t.Fatalf("started from a truncated snapshot:\n%s", out)
	}
	if !strings.Contains(string(out), "corrupt snapshot") || !strings.Contains(string(out), data) {
		t.Errorf("unclear error:\n%s", out)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "100": 100, "1kb": 1024, "1k": 1000, "100mb": 100 << 20, "2GB": 2 << 30, "5m": 5e6} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1tb"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) accepted", bad)
		}
	}
}
