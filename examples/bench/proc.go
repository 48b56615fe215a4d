package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// supervisor knows every server process group the harness started, so all
// of them can be killed however the harness ends (SIGINT included).
type supervisor struct {
	mu   sync.Mutex
	live map[int]*serverProc // by process group id; guarded by mu
}

func newSupervisor() *supervisor { return &supervisor{live: map[int]*serverProc{}} }

// killAll stops every server still running and returns the errors.
func (s *supervisor) killAll() error {
	s.mu.Lock()
	procs := make([]*serverProc, 0, len(s.live))
	for _, p := range s.live {
		procs = append(procs, p)
	}
	s.mu.Unlock()
	var errs []error
	for _, p := range procs {
		errs = append(errs, p.stop())
	}
	return errors.Join(errs...)
}

// serverProc is one running server under test, the leader of its own
// process group (children included).
type serverProc struct {
	spec *serverSpec
	sup  *supervisor
	cmd  *exec.Cmd
	pid  int // also the process group id
	addr string
	out  *tailBuffer // its stdout and stderr, the last few KiB

	exited  chan struct{} // closed when the leader has exited
	waitErr error         // set before exited closes

	stopOnce sync.Once
	stopErr  error
}

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte // guarded by mu
}

const tailMax = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts spec on a free loopback port with the arguments a
// (its port aside), with GOMAXPROCS=a.cpus, and waits until it accepts
// connections.
func startServer(ctx context.Context, sup *supervisor, spec *serverSpec, bin string, a serverArgs) (*serverProc, error) {
	var lastErr error
	for range 3 { // a port taken between freePort and the server's bind: try another
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		a.port = port
		p, err := startOnce(ctx, sup, spec, bin, a)
		if err == nil {
			return p, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func startOnce(ctx context.Context, sup *supervisor, spec *serverSpec, bin string, a serverArgs) (*serverProc, error) {
	cmd := exec.Command(bin, spec.args(a)...)
	cmd.Dir = a.dir
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(a.cpus))
	out := &tailBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &serverProc{spec: spec, sup: sup, cmd: cmd, pid: cmd.Process.Pid, addr: a.addr(), out: out, exited: make(chan struct{})}
	sup.mu.Lock()
	sup.live[p.pid] = p
	sup.mu.Unlock()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, 10*time.Second); err != nil {
		return nil, errors.Join(err, p.stop())
	}
	return p, nil
}

// waitReady polls the port until the server accepts a connection.
func (p *serverProc) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited at start-up (%v): %s", p.spec.Name, p.waitErr, p.out.String())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, err := net.DialTimeout("tcp", p.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not accept on %s within %v: %w; output: %s", p.spec.Name, p.addr, limit, err, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether the leader is still running.
func (p *serverProc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop ends the server's whole process group: SIGTERM, then SIGKILL after
// 3 s, and checks nothing of the group survives. Idempotent.
func (p *serverProc) stop() error {
	p.stopOnce.Do(func() {
		syscall.Kill(-p.pid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(3 * time.Second):
			p.stopErr = fmt.Errorf("%s ignored SIGTERM for 3 s; killed", p.spec.Name)
		}
		// Children still in the group (or a leader that ignored SIGTERM).
		syscall.Kill(-p.pid, syscall.SIGKILL)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			p.stopErr = errors.Join(p.stopErr, fmt.Errorf("%s: leader %d survived SIGKILL", p.spec.Name, p.pid))
		}
		if err := p.leftovers(2 * time.Second); err != nil {
			p.stopErr = errors.Join(p.stopErr, err)
		}
		p.sup.mu.Lock()
		delete(p.sup.live, p.pid)
		p.sup.mu.Unlock()
	})
	return p.stopErr
}

// leftovers waits up to limit for the process group to be empty (zombies
// aside) and reports what is left.
func (p *serverProc) leftovers(limit time.Duration) error {
	if !procSupported {
		return nil
	}
	deadline := time.Now().Add(limit)
	for {
		left, err := groupMembers(p.pid, false)
		if err != nil || len(left) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d processes of group %d left after SIGKILL", p.spec.Name, len(left), p.pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cpu returns the CPU time the server has used. A single process: its
// utime+stime. A process group: for every member, the larger of its
// utime+stime (which keeps exited threads but is rounded down to clock
// ticks) and the sum over its live threads (exact, see taskCPU), plus what
// its exited children used, counted once it waited for them (cutime+cstime).
func (p *serverProc) cpu() (time.Duration, error) {
	lead, err := readStat(p.pid)
	if err != nil {
		return 0, err
	}
	if !p.spec.MultiProcess {
		return lead.cpu + lead.childrenCPU, nil
	}
	members, err := groupMembers(p.pid, true)
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, m := range members {
		own := m.cpu
		if t, err := taskCPU(m.pid); err == nil {
			own = max(own, t)
		}
		total += own + m.childrenCPU
	}
	return total, nil
}

// rss returns the resident memory of the server's processes, summed.
func (p *serverProc) rss() (int64, error) {
	rss, _, err := readStatus(p.pid)
	if err != nil || !p.spec.MultiProcess {
		return rss, err
	}
	members, err := groupMembers(p.pid, false)
	if err != nil {
		return 0, err
	}
	for _, m := range members {
		if m.pid != p.pid {
			r, _, err := readStatus(m.pid)
			if err == nil {
				rss += r
			}
		}
	}
	return rss, nil
}

// hwm returns the leader's peak resident memory (VmHWM).
func (p *serverProc) hwm() (int64, error) {
	_, hwm, err := readStatus(p.pid)
	return hwm, err
}
