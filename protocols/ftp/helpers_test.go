package ftp_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/reactorkit/reactor/loop"
	"github.com/reactorkit/reactor/protocols/ftp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test accounts: "user" reads and writes the root; "anonymous" reads it.
const (
	testUser = "user"
	testPass = "secret"
)

// testServer is a running FTP server on a loopback port.
type testServer struct {
	addr string      // host:port of the control port
	root string      // the folder served
	srv  *ftp.Server // the protocol
	ls   *loop.Server
}

// serverConfig tunes startServer.
type serverConfig struct {
	loops   int           // event loops (default 2)
	network string        // "tcp" by default
	host    string        // "127.0.0.1" by default
	opts    []ftp.Option  // after the defaults
	root    string        // an existing folder to serve instead of a new one
	listen  []loop.Option // options of the control port's Listen
}

// startServer serves a new temporary folder (or cfg.root) to anonymous
// (read-only) and testUser (read-write); cleanup shuts it down.
func startServer(t testing.TB, cfg serverConfig) *testServer {
	t.Helper()
	root := cfg.root
	if root == "" {
		root = t.TempDir()
	}
	if cfg.loops == 0 {
		cfg.loops = 2
	}
	if cfg.network == "" {
		cfg.network = "tcp"
	}
	if cfg.host == "" {
		cfg.host = "127.0.0.1"
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts := append([]ftp.Option{
		ftp.WithAnonymous(root),
		ftp.WithUser(testUser, testPass, root, ftp.ReadWrite),
		ftp.WithLoginFailureDelay(20 * time.Millisecond),
		ftp.WithLogger(logger),
	}, cfg.opts...)
	srv, err := ftp.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := loop.NewServer(loop.WithLoops(cfg.loops), loop.WithPoisonReadBuffer(true), loop.WithLogger(logger))
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ln, err := ls.Listen(cfg.network, net.JoinHostPort(cfg.host, "0"), srv, cfg.listen...)
	if err != nil {
		ls.Close()
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ls.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v", err)
		}
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testServer{addr: ln.Addr().String(), root: root, srv: srv, ls: ls}
}

// write makes a file under the served root.
func (ts *testServer) write(t testing.TB, name string, data []byte) {
	t.Helper()
	p := filepath.Join(ts.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// read returns a served file's content.
func (ts *testServer) read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ts.root, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// client is a bare control connection for exact replies.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// opTimeout bounds every network step of a test client.
const opTimeout = 10 * time.Second

// dialClient connects and reads the greeting.
func dialClient(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, opTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &client{t: t, conn: c, r: bufio.NewReader(c)}
	if code, msg := cl.read(); code != 220 {
		t.Fatalf("greeting %d %s", code, msg)
	}
	return cl
}

// send writes one command line.
func (c *client) send(line string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(opTimeout))
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

// readReply reads one reply, multi-line ones whole; the text is the lines
// joined by "\n" without the final code.
func (c *client) readReply() (int, string, error) {
	c.conn.SetReadDeadline(time.Now().Add(opTimeout))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if len(line) < 4 {
		return 0, line, fmt.Errorf("short reply %q", line)
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil {
		return 0, line, fmt.Errorf("bad reply %q", line)
	}
	if line[3] != '-' {
		return code, line[4:], nil
	}
	text := []string{line[4:]}
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			return 0, "", err
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, line[:3]+" ") {
			text = append(text, l[4:])
			return code, strings.Join(text, "\n"), nil
		}
		text = append(text, l)
	}
}

func (c *client) read() (int, string) {
	c.t.Helper()
	code, text, err := c.readReply()
	if err != nil {
		c.t.Fatalf("reading reply: %v", err)
	}
	return code, text
}

// cmd sends a command and returns its reply.
func (c *client) cmd(line string) (int, string) {
	c.t.Helper()
	c.send(line)
	return c.read()
}

// expect sends a command and fails unless the reply has code.
func (c *client) expect(line string, code int) string {
	c.t.Helper()
	got, text := c.cmd(line)
	if got != code {
		c.t.Fatalf("%s: got %d %s, want %d", line, got, text, code)
	}
	return text
}

// login logs in and switches to binary.
func (c *client) login(user, pass string) {
	c.t.Helper()
	c.expect("USER "+user, 331)
	c.expect("PASS "+pass, 230)
	c.expect("TYPE I", 200)
}

// closed reports whether the server has closed the connection (EOF or
// reset within a second).
func (c *client) closed() bool {
	c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.r.ReadByte()
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// passiveAddr sends PASV or EPSV (cmd) and returns the address the reply
// gives to connect to.
func (c *client) passiveAddr(cmd string) string {
	c.t.Helper()
	if cmd == "PASV" {
		addr, err := parse227(c.expect("PASV", 227))
		if err != nil {
			c.t.Fatal(err)
		}
		return addr
	}
	text := c.expect(cmd, 229)
	i := strings.Index(text, "(|||")
	j := strings.LastIndex(text, "|)")
	if i < 0 || j < i {
		c.t.Fatalf("EPSV reply %q", text)
	}
	host, _, _ := net.SplitHostPort(c.conn.RemoteAddr().String())
	return net.JoinHostPort(host, text[i+4:j])
}

// dialData opens a data connection to addr, closed at cleanup.
func (c *client) dialData(addr string) net.Conn {
	c.t.Helper()
	d, err := net.DialTimeout("tcp", addr, opTimeout)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { d.Close() })
	return d
}

// epsv opens a passive data connection with EPSV.
func (c *client) epsv() net.Conn { return c.dialData(c.passiveAddr("EPSV")) }

// pasv opens a passive data connection with PASV.
func (c *client) pasv() net.Conn { return c.dialData(c.passiveAddr("PASV")) }

// parse227 reads the address of a 227 reply.
func parse227(text string) (string, error) {
	i, j := strings.Index(text, "("), strings.Index(text, ")")
	if i < 0 || j < i {
		return "", fmt.Errorf("227 reply %q", text)
	}
	f := strings.Split(text[i+1:j], ",")
	if len(f) != 6 {
		return "", fmt.Errorf("227 reply %q", text)
	}
	p1, _ := strconv.Atoi(f[4])
	p2, _ := strconv.Atoi(f[5])
	return net.JoinHostPort(strings.Join(f[:4], "."), strconv.Itoa(p1*256+p2)), nil
}

// port opens a listener and sends PORT for it; the server connects before
// replying 200.
func (c *client) port() net.Listener {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { ln.Close() })
	p := ln.Addr().(*net.TCPAddr).Port
	c.expect(fmt.Sprintf("PORT 127,0,0,1,%d,%d", p>>8, p&0xff), 200)
	return ln
}

// retrieve runs a download command over a new EPSV connection and returns
// the bytes and the final reply code.
func (c *client) retrieve(cmd string) ([]byte, int) {
	c.t.Helper()
	d := c.epsv()
	code, text := c.cmd(cmd)
	if code != 150 && code != 125 {
		d.Close()
		return nil, code
	}
	d.SetReadDeadline(time.Now().Add(opTimeout))
	data, err := io.ReadAll(d)
	if err != nil {
		c.t.Fatalf("%s: reading data: %v (%s)", cmd, err, text)
	}
	d.Close()
	code, _ = c.read()
	return data, code
}

// store runs an upload command over a new EPSV connection.
func (c *client) store(cmd string, data []byte) int {
	c.t.Helper()
	d := c.epsv()
	code, _ := c.cmd(cmd)
	if code != 150 && code != 125 {
		d.Close()
		return code
	}
	d.SetWriteDeadline(time.Now().Add(opTimeout))
	if _, err := d.Write(data); err != nil {
		c.t.Fatalf("%s: writing data: %v", cmd, err)
	}
	d.Close()
	code, _ = c.read()
	return code
}
