//go:build linux

// Command bench compares examples/ftpd with vsftpd and pyftpdlib (Debian's
// packages) on this machine, in one run, interleaved and repeated:
//
//   - RETR of a 1 GiB file from the page cache, with curl to /dev/null,
//     several times a round, each pass starting with the next server;
//   - 300 concurrent sessions each connecting, logging in, listing a
//     folder and quitting: the total time;
//   - memory per idle logged-in session: the servers' proportional set size
//     (Pss, which counts shared pages once) with 200 sessions open, minus
//     before, divided by 200.
//
// It is a benchmark, not a test:
//
//	go run ./examples/ftpd/bench [-rounds 3] [-downloads 3] [-size 1073741824]
//
// It needs curl, vsftpd and python3-pyftpdlib installed; vsftpd runs in
// the foreground on a loopback port with a configuration in a temporary
// folder, and every server is stopped at the end.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	jftp "github.com/jlaffaye/ftp"
)

func main() {
	rounds := flag.Int("rounds", 3, "rounds of each measurement")
	size := flag.Int64("size", 1<<30, "size of the downloaded file")
	sessions := flag.Int("sessions", 300, "concurrent sessions")
	idle := flag.Int("idle", 200, "idle sessions for the memory measurement")
	downloads := flag.Int("downloads", 3, "downloads from each server in each round, interleaved")
	flag.Parse()
	if err := run(*rounds, *downloads, *size, *sessions, *idle); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// server is one FTP server under test.
type server struct {
	name string
	port int
	cmd  *exec.Cmd
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(rounds, downloads int, size int64, nsessions, nidle int) error {
	tmp, err := os.MkdirTemp("", "ftpbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "root")
	os.MkdirAll(filepath.Join(root, "list"), 0o755)
	os.Chmod(tmp, 0o755) // vsftpd's ftp user must reach the root
	for i := range 20 {
		os.WriteFile(filepath.Join(root, "list", fmt.Sprintf("file-%02d.txt", i)), []byte("x\n"), 0o644)
	}
	fmt.Printf("writing a %d-byte file and reading it into the page cache\n", size)
	if err := makeFile(filepath.Join(root, "big.bin"), size); err != nil {
		return err
	}

	bin := filepath.Join(tmp, "ftpd")
	if out, err := exec.Command("go", "build", "-o", bin, "./examples/ftpd").CombinedOutput(); err != nil {
		return fmt.Errorf("building examples/ftpd (run from the module root): %w\n%s", err, out)
	}
	names := []string{"reactor ftpd", "vsftpd", "pyftpdlib"}
	tput := map[string][]float64{}
	conc := map[string][]time.Duration{}
	mem := map[string][]float64{}
	cpus := map[string][]float64{}
	for r := range rounds {
		// Fresh servers each round, so the memory phase sees processes
		// whose allocators have not grown for earlier sessions.
		servers, stop, err := startServers(tmp, bin, root)
		if err != nil {
			stop()
			return err
		}
		for _, s := range servers {
			kib, err := idleMemory(s, nidle)
			if err != nil {
				stop()
				return fmt.Errorf("%s: memory: %w", s.name, err)
			}
			mem[s.name] = append(mem[s.name], kib)
			fmt.Printf("round %d %-13s memory per idle session: %.1f KiB\n", r, s.name, kib)
		}
		// Downloads interleave, each pass starting with another server, so
		// no server always goes first after the memory phase.
		for k := range downloads {
			for i := range servers {
				s := servers[(i+r+k)%len(servers)]
				cpu0 := cpuTime(s.cmd.Process.Pid)
				bps, err := download(s, size)
				if err != nil {
					stop()
					return fmt.Errorf("%s: download: %w", s.name, err)
				}
				// vsftpd serves a session in child processes, whose CPU
				// time reaches the parent's cutime once it has reaped them.
				time.Sleep(300 * time.Millisecond)
				cpu := cpuTime(s.cmd.Process.Pid) - cpu0
				tput[s.name] = append(tput[s.name], bps)
				cpus[s.name] = append(cpus[s.name], cpu.Seconds())
				fmt.Printf("round %d %-13s RETR: %7.0f MB/s, server CPU %v\n", r, s.name, bps/1e6, cpu.Round(time.Millisecond))
			}
		}
		for _, s := range servers {
			retries.Store(0)
			d, failed := concurrent(s, nsessions)
			conc[s.name] = append(conc[s.name], d)
			fmt.Printf("round %d %-13s %d sessions: %v (%d retried, %d failed)\n", r, s.name, nsessions, d.Round(time.Millisecond), retries.Load(), failed)
		}
		stop()
	}
	servers := []*server{{name: names[0]}, {name: names[1]}, {name: names[2]}}
	fmt.Printf("\n| server | RETR 1 GiB (MB/s, median) | %d sessions connect+login+LIST+QUIT (median) | memory per idle logged-in session (KiB, median) |\n|---|---|---|---|\n", nsessions)
	for _, s := range servers {
		fmt.Printf("| %s | %.0f | %v | %.1f |\n", s.name, median(tput[s.name])/1e6, medianDur(conc[s.name]).Round(time.Millisecond), median(mem[s.name]))
	}
	me, vs, py := servers[0].name, servers[1].name, servers[2].name
	fmt.Printf("\nthroughput vs vsftpd: %.2fx (target >= 0.9x); server CPU seconds per RETR: %.3f vs vsftpd %.3f, pyftpdlib %.3f\n",
		median(tput[me])/median(tput[vs]), median(cpus[me]), median(cpus[vs]), median(cpus[py]))
	fmt.Printf("sessions time vs vsftpd: %.2fx, vs pyftpdlib: %.2fx (target < 1x both)\n",
		float64(medianDur(conc[me]))/float64(medianDur(conc[vs])), float64(medianDur(conc[me]))/float64(medianDur(conc[py])))
	fmt.Printf("idle memory vs pyftpdlib: %.2fx (target < 1x)\n", median(mem[me])/median(mem[py]))
	return nil
}

// startServers starts the three servers on free loopback ports; stop ends
// them (and may be called on error).
func startServers(tmp, bin, root string) ([]*server, func(), error) {
	servers := []*server{{name: "reactor ftpd"}, {name: "vsftpd"}, {name: "pyftpdlib"}}
	var started []*server
	stop := func() {
		for _, s := range started {
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
			s.cmd.Wait()
		}
		started = nil
	}
	for _, s := range servers {
		s.port = freePort()
	}
	servers[0].cmd = exec.Command(bin, "-root", root, "-addr", servers[0].addr())
	conf := filepath.Join(tmp, "vsftpd.conf")
	os.WriteFile(conf, []byte(strings.Join([]string{
		"listen=YES", "listen_ipv6=NO", "listen_address=127.0.0.1", "listen_port=" + strconv.Itoa(servers[1].port),
		"anonymous_enable=YES", "no_anon_password=NO", "local_enable=NO", "write_enable=NO", "anon_root=" + root,
		"pasv_enable=YES", "pasv_min_port=41000", "pasv_max_port=42999", "seccomp_sandbox=NO", "background=NO",
		"max_clients=0", "max_per_ip=0", "xferlog_enable=NO", "dirmessage_enable=NO", "use_sendfile=YES",
		"secure_chroot_dir=/var/run/vsftpd/empty", "idle_session_timeout=600", "",
	}, "\n")), 0o600)
	servers[1].cmd = exec.Command("/usr/sbin/vsftpd", conf)
	servers[2].cmd = exec.Command("/usr/bin/python3", "-m", "pyftpdlib", "-i", "127.0.0.1", "-p", strconv.Itoa(servers[2].port), "-d", root)
	for _, s := range servers {
		s.cmd.Stdout, s.cmd.Stderr = io.Discard, io.Discard
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := s.cmd.Start(); err != nil {
			return nil, stop, fmt.Errorf("%s: %w", s.name, err)
		}
		started = append(started, s)
	}
	for _, s := range servers {
		if err := waitReady(s.addr()); err != nil {
			return nil, stop, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return servers, stop, nil
}

// makeFile writes size bytes and reads them back, leaving them cached.
func makeFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for n := int64(0); n < size; n += int64(len(buf)) {
		if _, err := f.Write(buf[:min(int64(len(buf)), size-n)]); err != nil {
			f.Close()
			return err
		}
	}
	f.Seek(0, 0)
	io.Copy(io.Discard, f)
	return f.Close()
}

func waitReady(addr string) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
	}
	return fmt.Errorf("not listening on %s", addr)
}

// download fetches the big file with curl and returns bytes per second.
func download(s *server, size int64) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download} %{speed_download}",
		"ftp://"+s.addr()+"/big.bin").Output()
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != strconv.FormatInt(size, 10) {
		return 0, fmt.Errorf("curl: %q", out)
	}
	return strconv.ParseFloat(f[1], 64)
}

// concurrent runs n sessions at once, each connecting, logging in, listing
// and quitting, and returns the time until the last ended.
func concurrent(s *server, n int) (time.Duration, int) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			for try := range 5 { // a session the server drops is tried again, in the time
				if err = oneSession(s); err == nil {
					return
				}
				retries.Add(1)
				time.Sleep(time.Duration(try+1) * 50 * time.Millisecond)
			}
			errs <- err
		}()
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	return d, len(errs)
}

// retries counts sessions tried again after the server dropped them.
var retries atomic.Int64

// oneSession connects, logs in, lists a folder of 20 files and quits.
func oneSession(s *server) error {
	c, err := jftp.Dial(s.addr(), jftp.DialWithTimeout(60*time.Second), jftp.DialWithDisabledMLSD(true))
	if err != nil {
		return err
	}
	defer c.Quit()
	if err := c.Login("anonymous", "bench@"); err != nil {
		return err
	}
	e, err := c.List("/list")
	if err != nil {
		return fmt.Errorf("LIST: %w", err)
	}
	if len(e) != 20 {
		return fmt.Errorf("LIST: %d entries, want 20", len(e))
	}
	return nil
}

// idleMemory opens n logged-in sessions and returns the growth of the
// server's proportional set size per session, in KiB.
func idleMemory(s *server, n int) (float64, error) {
	time.Sleep(500 * time.Millisecond)
	before := pss(s.cmd.Process.Pid)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", s.addr())
		if err != nil {
			return 0, err
		}
		conns = append(conns, c)
		r := bufio.NewReader(c)
		if err := expect(r, "220"); err != nil {
			return 0, err
		}
		fmt.Fprintf(c, "USER anonymous\r\n")
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if strings.HasPrefix(line, "331") {
			fmt.Fprintf(c, "PASS bench@\r\n")
			if err := expect(r, "230"); err != nil {
				return 0, err
			}
		}
	}
	time.Sleep(time.Second)
	after := pss(s.cmd.Process.Pid)
	return float64(after-before) / float64(n), nil
}

// expect reads reply lines until one starting with code and a space.
func expect(r *bufio.Reader, code string) error {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, code+" ") {
			return nil
		}
		if len(line) >= 4 && line[3] == ' ' {
			return fmt.Errorf("got %q, want %s", line, code)
		}
	}
}

// cpuTime sums the user and system CPU time of pid and its descendants
// (exited children are not counted: vsftpd's session processes must still
// run when it is read, which they do while curl's session is open).
func cpuTime(pid int) time.Duration {
	var ticks int64
	for _, p := range descendants(pid) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		// After the command: state is f[0]; utime and stime are fields 14
		// and 15 of stat(5), f[11] and f[12] here; cutime and cstime follow.
		for _, i := range []int{11, 12, 13, 14} {
			if i < len(f) {
				n, _ := strconv.ParseInt(f[i], 10, 64)
				ticks += n
			}
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// pss sums the Pss (KiB) of pid and all its descendants.
func pss(pid int) int64 {
	total := int64(0)
	for _, p := range descendants(pid) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/smaps_rollup")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "Pss:" {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				total += n
			}
		}
	}
	return total
}

// descendants returns pid and every process below it.
func descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			children[pp] = append(children[pp], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func medianDur(v []time.Duration) time.Duration {
	s := append([]time.Duration(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
