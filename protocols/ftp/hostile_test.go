package ftp_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jftp "github.com/jlaffaye/ftp"

	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/protocols/ftp"
)

// TestHostile throws what attackers send at one server, then checks it
// still serves.
func TestHostile(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverConfig{opts: []ftp.Option{ftp.WithMaxLineLength(4096)}})
	ts.write(t, "pub/file.txt", []byte("public"))
	ts.write(t, "sub/inner.txt", []byte("inner"))
	secret := t.TempDir()
	os.WriteFile(filepath.Join(secret, "passwd"), []byte("secret"), 0o644)
	mustSymlink := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(ts.root, name)); err != nil {
			t.Fatal(err)
		}
	}
	rel, _ := filepath.Rel(ts.root, secret)
	mustSymlink(secret, "abs-out")     // absolute, out of the root
	mustSymlink(rel, "rel-out")        // relative, climbing out
	mustSymlink("sub", "inside")       // stays inside: fine
	mustSymlink("../../..", "dotdots") // climbing out by itself

	t.Run("traversal", func(t *testing.T) {
		c := userClient(t, ts)
		for _, p := range []string{"../../etc/passwd", "/../etc/passwd", "pub/../../x", "..", "/..", "sub/../.."} {
			c.epsv()
			c.steps(step{"RETR " + p, 550, ""})
			c.steps(step{"SIZE " + p, 550, ""}, step{"MKD " + p + "/x", 550, ""}, step{"DELE " + p, 550, ""})
		}
		c.steps(step{"CWD ../../..", 250, ""}, step{"PWD", 257, `"/"`},
			step{"CWD /etc", 550, ""}, step{"SIZE /etc/passwd", 550, ""}, step{"STAT ../", 550, ""})
		c.epsv()
		c.steps(step{"LIST ../..", 550, ""})
	})
	t.Run("symlinks", func(t *testing.T) {
		c := userClient(t, ts)
		for _, p := range []string{"abs-out/passwd", "rel-out/passwd", "dotdots/etc/passwd"} {
			c.epsv()
			c.steps(step{"RETR " + p, 550, ""}, step{"SIZE " + p, 550, ""})
			c.epsv()
			c.steps(step{"STOR " + p, 550, ""})
		}
		for _, p := range []string{"abs-out", "rel-out", "dotdots"} {
			c.steps(step{"CWD " + p, 550, ""}, step{"MLST " + p, 550, ""})
			c.epsv()
			c.steps(step{"LIST " + p, 550, ""})
		}
		c.steps(step{"CWD inside", 250, ""}, step{"SIZE inner.txt", 213, "5"}, step{"CWD /", 250, ""})
		mlsd, code := c.retrieve("MLSD")
		if code != 226 || bytes.Contains(mlsd, []byte("abs-out")) || !bytes.Contains(mlsd, []byte("inside")) {
			t.Fatalf("MLSD %d %q", code, mlsd)
		}
		if b, err := os.ReadFile(filepath.Join(secret, "passwd")); err != nil || string(b) != "secret" {
			t.Fatal("the file outside the root changed")
		}
	})
	t.Run("bounce", func(t *testing.T) {
		c := userClient(t, ts)
		c.steps(step{"PORT 10,0,0,1,200,10", 501, "foreign address"},
			step{"PORT 127,0,0,2,200,10", 501, "foreign address"},
			step{"PORT 127,0,0,1,0,21", 501, "privileged port"},
			step{"EPRT |1|127.0.0.1|21|", 501, "privileged port"},
			step{"EPRT |1|192.168.1.1|2000|", 501, "foreign address"},
			step{"RETR pub/file.txt", 425, ""})
	})
	t.Run("long_line", func(t *testing.T) {
		c := dialClient(t, ts.addr)
		junk := bytes.Repeat([]byte("A"), 1<<20)
		// The 500 comes as soon as the limit passes, long before the line
		// ends: the server does not wait to buffer it.
		c.conn.Write(junk[:8192])
		if code, _ := c.read(); code != 500 {
			t.Fatalf("got %d", code)
		}
		c.conn.Write(junk[8192:])
		c.conn.Write([]byte("\r\n"))
		c.steps(step{"NOOP", 200, ""})
		// A long line with its CRLF, sent at once.
		c.conn.Write(append(bytes.Repeat([]byte("B"), 100000), "\r\nNOOP\r\n"...))
		c.expectReply(500)
		c.expectReply(200)
	})
	t.Run("before_login", func(t *testing.T) {
		c := dialClient(t, ts.addr)
		for _, cmd := range []string{"RETR pub/file.txt", "LIST", "STOR x", "CWD pub", "PASV", "EPSV", "PORT 127,0,0,1,4,1",
			"DELE pub/file.txt", "MKD x", "SITE CHMOD 777 pub", "SIZE pub/file.txt", "MLST", "STAT /", "RNFR pub"} {
			c.steps(step{cmd, 530, ""})
		}
		c.steps(step{"USER " + testUser, 331, ""}, step{"RETR pub/file.txt", 530, ""})
	})
	t.Run("garbage", func(t *testing.T) {
		c := dialClient(t, ts.addr)
		r := rand.New(rand.NewPCG(1, 2))
		for range 50 {
			line := make([]byte, 1+r.IntN(300))
			for i := range line {
				line[i] = byte(r.IntN(256))
				if line[i] == '\n' {
					line[i] = 0
				}
			}
			c.conn.Write(append(line, '\r', '\n'))
			if code, text := c.read(); code < 500 || code > 599 {
				t.Fatalf("garbage %q got %d %s", line, code, text)
			}
		}
		c.steps(step{"NOOP\x00", 500, ""}, step{"\x00\x00\x00", 500, ""}, step{"", 500, ""}, step{"   ", 500, ""})
		c.login(testUser, testPass)
		c.steps(step{"SIZE pub/file.txt\x00../x", 550, ""}, step{"CWD \xc3\x28", 550, ""}, step{"NOOP", 200, ""})
	})
	t.Run("concurrent_200", func(t *testing.T) {
		body := testtool.Pattern(256<<10, 15)
		ts.write(t, "pub/body.bin", body)
		want := sha256.Sum256(body)
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- oneSession(ts.addr, want, i)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
	// After all of it, the server still serves, and every session ended.
	c := dialJ(t, ts.addr, "anonymous", "x")
	if names, err := c.NameList("pub"); err != nil || len(names) == 0 {
		t.Fatalf("NLST after the attacks: %q, %v", names, err)
	}
	c.Quit()
	waitFor(t, "sessions to end", func() bool { return ts.srv.Sessions() == 0 })
}

// TestPassiveDataOnlyFromClient: a connection to a passive port from
// another address than the control connection's is reset without getting
// a byte of the transfer waiting there (RFC 2577 §3, as vsftpd's
// pasv_promiscuous=NO); the client's own connection then gets it all.
func TestPassiveDataOnlyFromClient(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverConfig{})
	body := testtool.Pattern(256<<10, 16)
	ts.write(t, "f", body)
	foreign := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: opTimeout}
	for _, cmd := range []string{"PASV", "EPSV"} {
		t.Run(cmd, func(t *testing.T) {
			c := userClient(t, ts)
			addr := c.passiveAddr(cmd)
			c.expect1("RETR f") // 150: the transfer waits for its connection
			fc, err := foreign.Dial("tcp", addr)
			if err != nil {
				t.Skipf("cannot connect from 127.0.0.2: %v", err)
			}
			defer fc.Close()
			fc.SetReadDeadline(time.Now().Add(opTimeout))
			n, err := io.Copy(io.Discard, fc)
			if n != 0 || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the connection from 127.0.0.2 got %d bytes, then %v; want a reset or close and no data", n, err)
			}
			d := c.dialData(addr)
			d.SetReadDeadline(time.Now().Add(opTimeout))
			got, err := io.ReadAll(d)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("the client's own connection got %d bytes, %v", len(got), err)
			}
			c.expectReply(226)
		})
	}
}

// oneSession logs in anonymously, lists, downloads and checks a file, and
// quits.
func oneSession(addr string, want [32]byte, i int) error {
	c, err := jftp.Dial(addr, jftp.DialWithTimeout(30*time.Second), jftp.DialWithDisabledEPSV(i%2 == 0))
	if err != nil {
		return err
	}
	defer c.Quit()
	if err := c.Login("anonymous", fmt.Sprint("guest", i)); err != nil {
		return err
	}
	if entries, err := c.List("/pub"); err != nil || len(entries) < 2 {
		return fmt.Errorf("session %d: LIST %d entries, %v", i, len(entries), err)
	}
	r, err := c.Retr("pub/body.bin")
	if err != nil {
		return err
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || sha256.Sum256(b) != want {
		return fmt.Errorf("session %d: body differs (%d bytes, %v)", i, len(b), err)
	}
	return nil
}

// TestListingDoesNotStallTheLoop lists a folder of 100,000 entries with
// LIST, NLST and MLSD while other sessions on the same (single) loop keep
// answering NOOP, each within 100 ms: the folder is read and formatted on
// the disk workers. The folder the test just made is in the page cache, so
// the server is told to wait 150 ms before each folder it opens, as a cold
// disk would make it: done on the loop, that wait alone would miss the
// bound. It runs alone (not in parallel).
func TestListingDoesNotStallTheLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 100,000 files")
	}
	const coldDisk = 150 * time.Millisecond
	ts := startServer(t, serverConfig{loops: 1, opts: []ftp.Option{ftp.WithFolderDelay(coldDisk)}})
	const n = 100000
	dir := filepath.Join(ts.root, "huge")
	os.Mkdir(dir, 0o755)
	for i := range n {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("entry-%06d.dat", i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	for _, cmd := range []string{"LIST huge", "NLST huge", "MLSD huge"} {
		staysResponsive(t, ts, cmd, func() string {
			took := listHuge(t, ts, n, cmd)
			if took < coldDisk {
				t.Fatalf("%s took %v: the folder delay was not applied", cmd, took)
			}
			return fmt.Sprintf("listed %d entries in %v", n, took)
		})
	}
}

// noopBound is how long a NOOP may take while another session of the same
// loop has slow work done.
const noopBound = 100 * time.Millisecond

// staysResponsive runs work (on sessions of its own; it describes what it
// did for the log) while other sessions of ts send NOOPs, and fails the
// test unless the slowest NOOP took at most noopBound beyond the time the
// whole process went without the CPU. A try over the bound is run again up
// to twice, since on a shared machine the process can lose the CPU for
// that long; a loop that really stalls misses every try.
func staysResponsive(t *testing.T, ts *testServer, what string, work func() string) {
	t.Helper()
	var st pingStats
	for try := range 3 {
		var did string
		st = whilePinging(t, ts, func() { did = work() })
		t.Logf("%s, try %d: %s; %d NOOPs meanwhile, the slowest %v; the process itself lagged up to %v",
			what, try, did, st.pings, st.worst, st.lag)
		if st.pings < 4 {
			t.Fatalf("%s: only %d NOOPs meanwhile", what, st.pings)
		}
		if st.worst-st.lag <= noopBound {
			return
		}
	}
	t.Errorf("%s: a NOOP took %v meanwhile, in every try", what, st.worst)
}

// pingStats is what whilePinging measured.
type pingStats struct {
	worst time.Duration // the slowest NOOP
	pings int           // NOOPs answered
	lag   time.Duration // the longest the process went without the CPU
}

// whilePinging runs work while four sessions of ts send NOOPs one after
// another, and a canary goroutine measures how long the whole process went
// without the CPU (other programs on a shared machine): only the delay
// beyond that is the loop's.
func whilePinging(t *testing.T, ts *testServer, work func()) (st pingStats) {
	const others = 4
	pingers := make([]*client, others)
	for i := range pingers {
		pingers[i] = userClient(t, ts)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	// st is complete once every goroutine has stopped, also when work
	// fails the test.
	defer func() {
		close(done)
		wg.Wait()
		for _, p := range pingers {
			p.conn.Close()
		}
	}()
	for _, p := range pingers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				start := time.Now()
				p.conn.SetWriteDeadline(time.Now().Add(opTimeout))
				_, err := io.WriteString(p.conn, "NOOP\r\n")
				code := 0
				if err == nil {
					code, _, err = p.readReply()
				}
				d := time.Since(start)
				if err != nil || code != 200 {
					t.Errorf("NOOP: %d %v", code, err)
					return
				}
				mu.Lock()
				st.worst = max(st.worst, d)
				st.pings++
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			t0 := time.Now()
			time.Sleep(time.Millisecond)
			mu.Lock()
			st.lag = max(st.lag, time.Since(t0)-time.Millisecond)
			mu.Unlock()
		}
	}()
	work()
	return st
}

// listHuge runs cmd, a listing of the n entries of a folder, on a session
// of its own, checks the lines, and returns how long it took.
func listHuge(t *testing.T, ts *testServer, n int, cmd string) time.Duration {
	lister := userClient(t, ts)
	defer lister.conn.Close()
	start := time.Now()
	// Counted as it streams: the test's own garbage would otherwise make
	// the collector, not the server, the thing measured.
	d := lister.epsv()
	lister.expect1(cmd)
	buf := make([]byte, 64<<10)
	var head []byte
	lines := 0
	d.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		k, err := d.Read(buf)
		if len(head) < 200 {
			head = append(head, buf[:min(k, 200)]...)
		}
		lines += bytes.Count(buf[:k], []byte("\n"))
		if err != nil {
			break
		}
	}
	d.Close()
	lister.expectReply(226)
	took := time.Since(start)
	if lines != n || !strings.Contains(string(head), "entry-000000.dat") {
		t.Fatalf("%s: %d lines, starting %q", cmd, lines, head)
	}
	return took
}
