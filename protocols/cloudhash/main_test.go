package cloudhash_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/loop"
	"github.com/reactorkit/reactor/protocols/cloudhash"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// quietLogger drops the server's info logs in tests.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startServer runs a CloudHash server with every listener on a free
// loopback port, two loops and a poisoned read buffer; the test's cleanup
// shuts it down.
func startServer(t testing.TB, opts ...cloudhash.Option) *cloudhash.Server {
	t.Helper()
	base := []cloudhash.Option{
		cloudhash.WithLineAddr("127.0.0.1:0"),
		cloudhash.WithLengthAddr("127.0.0.1:0"),
		cloudhash.WithRESPAddr("127.0.0.1:0"),
		cloudhash.WithLogger(quietLogger()),
		cloudhash.WithLoopOptions(loop.WithLoops(2), loop.WithPoisonReadBuffer(true)),
	}
	s, err := cloudhash.NewServer(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// dial opens a plain TCP connection with a deadline for the whole test
// step.
func dial(t testing.TB, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads until EOF.
func readAll(t testing.TB, c net.Conn) []byte {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading to EOF: %v", err)
	}
	return b
}

// expectEOF checks that the server closes c (after any bytes still due).
func expectEOF(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("want the server to close the connection, got %v", err)
	}
}

// respConn is a raw RESP connection: it sends commands as multibulk and
// reads exactly one reply's bytes back.
type respConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func newRESPConn(t testing.TB, addr net.Addr) *respConn {
	c := dial(t, addr)
	return &respConn{t: t, c: c, r: bufio.NewReader(c)}
}

func encodeCommand(args ...string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"+a+"\r\n"...)
	}
	return b
}

// do sends one command and returns its raw reply.
func (rc *respConn) do(args ...string) string {
	rc.t.Helper()
	if _, err := rc.c.Write(encodeCommand(args...)); err != nil {
		rc.t.Fatal(err)
	}
	return rc.reply()
}

// reply reads one raw RESP reply, nested arrays included.
func (rc *respConn) reply() string {
	rc.t.Helper()
	var buf bytes.Buffer
	if err := readReply(rc.r, &buf); err != nil {
		rc.t.Fatalf("reading reply: %v (so far %q)", err, buf.String())
	}
	return buf.String()
}

func readReply(r *bufio.Reader, buf *bytes.Buffer) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	buf.WriteString(line)
	if len(line) < 3 {
		return errors.New("short reply line")
	}
	n, _ := strconv.Atoi(strings.TrimRight(line[1:], "\r\n"))
	switch line[0] {
	case '$':
		if n < 0 {
			return nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		buf.Write(b)
	case '*', '%':
		if line[0] == '%' {
			n *= 2
		}
		for range max(n, 0) {
			if err := readReply(r, buf); err != nil {
				return err
			}
		}
	}
	return nil
}

// tool returns an outside program's path, or skips (see testtool).
func tool(t testing.TB, name, pkg string) string {
	t.Helper()
	return testtool.Path(t, name, pkg)
}

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRedis runs a real redis-server on a free port in a temp dir, with
// persistence off; the test's cleanup kills it.
func startRedis(t testing.TB, extra ...string) net.Addr {
	t.Helper()
	bin := tool(t, "redis-server", "redis-server")
	port := freePort(t)
	dir := t.TempDir()
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log")}, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server did not start: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// port returns addr's port as a string, for command lines.
func port(addr net.Addr) string { return strconv.Itoa(addr.(*net.TCPAddr).Port) }
