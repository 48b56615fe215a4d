package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// builds holds the server binaries, built into a temporary directory.
type builds struct {
	dir   string            // the temporary directory; removed by cleanup
	paths map[string]string // binary key -> path
	errs  map[string]error  // binary key -> why it could not be built
	took  time.Duration     // how long building took
}

// moduleRoot returns the directory of the main module's go.mod.
func moduleRoot(ctx context.Context, goCmd string) (string, error) {
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("bench: run it inside the reactor module (go run ./examples/bench)")
	}
	return filepath.Dir(mod), nil
}

// buildAll builds every binary the servers need. A failed Go build is
// recorded (and fails the run later); a missing C compiler is not.
func buildAll(ctx context.Context, cfg config, root string) (*builds, error) {
	dir, err := os.MkdirTemp("", "reactor-bench-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	b := &builds{dir: dir, paths: map[string]string{}, errs: map[string]error{}}
	start := time.Now()
	goBuild := func(key, pkg string, tags ...string) {
		out := filepath.Join(dir, key)
		args := []string{"build", "-o", out}
		if len(tags) > 0 {
			args = append(args, "-tags", strings.Join(tags, ","))
		}
		args = append(args, pkg)
		cmd := exec.CommandContext(ctx, cfg.goCmd, args...)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.errs[key] = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(string(msg)))
			return
		}
		b.paths[key] = out
	}
	goBuild("patterns", "./examples/patterns")
	goBuild("patterns-gnet", "./examples/patterns", "gnet")
	goBuild("gnetserver", "./examples/bench/gnetserver")
	b.buildC(ctx, cfg, root)
	b.took = time.Since(start)
	return b, ctx.Err()
}

// buildC compiles the C epoll echo reference, if a C compiler and the
// source are there.
func (b *builds) buildC(ctx context.Context, cfg config, root string) {
	src := cfg.cref
	if !filepath.IsAbs(src) {
		src = filepath.Join(root, src)
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		b.errs["cepoll"] = fmt.Errorf("%w: no C compiler (cc)", errUnavailable)
		return
	}
	if _, err := os.Stat(src); err != nil {
		b.errs["cepoll"] = fmt.Errorf("%w: no reference source: %w", errUnavailable, err)
		return
	}
	out := filepath.Join(b.dir, "cepoll")
	if msg, err := exec.CommandContext(ctx, cc, "-O2", "-pthread", "-o", out, src).CombinedOutput(); err != nil {
		b.errs["cepoll"] = fmt.Errorf("cc %s: %w\n%s", src, err, strings.TrimSpace(string(msg)))
		return
	}
	b.paths["cepoll"] = out
}

// cleanup removes the binaries.
func (b *builds) cleanup() error { return os.RemoveAll(b.dir) }
