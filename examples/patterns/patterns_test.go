package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reactorkit/reactor/examples/patterns/handler"
	"github.com/reactorkit/reactor/tlscert"
)

// TestMain lets the test binary stand in for the patterns binary when the
// process and prefork patterns re-execute themselves as children.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-child" {
		main()
		return
	}
	os.Exit(m.Run())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startPattern runs one pattern until the test ends and returns its address;
// extra flags (-tls-cert, say) follow the usual ones.
func startPattern(t *testing.T, pattern string, proto handler.Proto, dir string, extra ...string) string {
	t.Helper()
	addr := freeAddr(t)
	cfg, err := parseFlags(append([]string{"-pattern", pattern, "-addr", addr, "-proto", string(proto), "-dir", dir,
		"-loops", "1", "-procs", "2", "-workers", "4", "-max-procs", "8"}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: run: %v", pattern, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: did not stop within 10 s", pattern)
		}
		if n := liveChildren(t); n > 0 {
			t.Errorf("%s: %d child processes left", pattern, n)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not listening: %v", pattern, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// liveChildren counts this process's children that are still running,
// waiting up to 3 s for them to go.
func liveChildren(t *testing.T) int {
	t.Helper()
	if runtime.GOOS != "linux" {
		return 0
	}
	me := strconv.Itoa(os.Getpid())
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := 0
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			s := string(b)
			f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
			if len(f) > 1 && f[1] == me && f[0] != "Z" {
				n++
			}
		}
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var allPatterns = []string{"serial", "process", "goroutine", "prefork", "pool", "evented"}

func TestPatternsServeTheSession(t *testing.T) {
	dir := t.TempDir()
	for _, pattern := range allPatterns {
		t.Run(pattern, func(t *testing.T) {
			addr := startPattern(t, pattern, handler.FTP, dir)
			// Two clients at once: the serial pattern serves the second
			// after the first; the others side by side.
			results := make(chan error, 2)
			for range 2 {
				go func() { results <- ftpSession(addr, dir) }()
			}
			for range 2 {
				if err := <-results; err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// ftpSession runs the seed's control-channel session and checks every reply.
func ftpSession(addr, dir string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	return ftpSessionOn(c, dir)
}

// ftpSessionOn runs the session on an open connection and closes it.
func ftpSessionOn(c net.Conn, dir string) error {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	expect := func(want string) error {
		got, err := r.ReadString('\n')
		if got != want {
			return fmt.Errorf("got %q (%v), want %q", got, err, want)
		}
		return nil
	}
	if err := expect(handler.Greeting); err != nil {
		return err
	}
	steps := []struct{ send, want string }{
		{"USER anonymous\r\n", handler.ReplyUser},
		{"syst\n", handler.ReplySyst},
		{"PWD\r\n", handler.ReplyPWD(dir)},
		{"NOOP\r\n", "502 Don't know how to respond to NOOP\r\n"},
		{"CWD /nonexistent-dir\r\n", "550 directory not found\r\n"},
		{"QUIT\r\n", handler.ReplyQuit},
	}
	for _, s := range steps {
		if _, err := io.WriteString(c, s.send); err != nil {
			return err
		}
		if err := expect(s.want); err != nil {
			return fmt.Errorf("after %q: %w", s.send, err)
		}
	}
	if b, err := r.ReadByte(); err != io.EOF {
		return fmt.Errorf("after QUIT: got %q, %v; want EOF", b, err)
	}
	return nil
}

func TestPatternsEcho(t *testing.T) {
	for _, pattern := range allPatterns {
		t.Run(pattern, func(t *testing.T) {
			addr := startPattern(t, pattern, handler.Echo, t.TempDir())
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkEcho(c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkEcho sends 100 KiB on c, checks they come back, and closes c.
func checkEcho(c net.Conn) error {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := make([]byte, 100<<10)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != string(msg) {
		return fmt.Errorf("echo differs")
	}
	return nil
}

// tlsPatterns are the patterns that serve TLS.
var tlsPatterns = []string{"evented", "goroutine", "pool", "serial"}

// certFiles writes a self-signed certificate for 127.0.0.1 to dir and
// returns its files and a client configuration trusting it.
func certFiles(t *testing.T, dir string) (certFile, keyFile string, client *tls.Config) {
	t.Helper()
	cert, err := tlscert.SelfSigned([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, cert.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, cert.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	client = cert.ClientConfig()
	client.ServerName = "127.0.0.1"
	return certFile, keyFile, client
}

func TestPatternsTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, client := certFiles(t, dir)
	for _, pattern := range tlsPatterns {
		t.Run(pattern, func(t *testing.T) {
			tlsArgs := []string{"-tls-cert", certFile, "-tls-key", keyFile}
			echo := startPattern(t, pattern, handler.Echo, dir, tlsArgs...)
			ftp := startPattern(t, pattern, handler.FTP, dir, tlsArgs...)
			d := &net.Dialer{Timeout: 5 * time.Second}

			// A plaintext client gets nothing it could read as an echo,
			// and the server goes on serving.
			pc, err := net.DialTimeout("tcp", echo, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			pc.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(pc, "hello in plaintext\r\n")
			if got, _ := io.ReadAll(pc); strings.Contains(string(got), "hello") {
				t.Errorf("plaintext echoed on a TLS port: %q", got)
			}
			pc.Close()

			c, err := tls.DialWithDialer(d, "tcp", echo, client)
			if err != nil {
				t.Fatal(err)
			}
			st := c.ConnectionState()
			if !st.HandshakeComplete || st.DidResume {
				t.Errorf("state: complete %v, resumed %v", st.HandshakeComplete, st.DidResume)
			}
			if err := checkEcho(c); err != nil {
				t.Fatal(err)
			}
			fc, err := tls.DialWithDialer(d, "tcp", ftp, client)
			if err != nil {
				t.Fatal(err)
			}
			if err := ftpSessionOn(fc, dir); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-pattern", "nope"},
		{"-pattern", "serial", "-proto", "http"},
		{"-pattern", "pool", "-workers", "0"},
		{"-pattern", "evented", "-tls-cert", "cert.pem"},
		{"-pattern", "evented", "-tls-key", "key.pem"},
		{"-pattern", "evented", "-tls-self-signed", "-tls-cert", "c.pem", "-tls-key", "k.pem"},
		{"-pattern", "process", "-tls-self-signed"},
		{"-pattern", "prefork", "-tls-cert", "c.pem", "-tls-key", "k.pem"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

func TestPatternsTLSSelfSigned(t *testing.T) {
	addr := startPattern(t, "evented", handler.Echo, t.TempDir(), "-tls-self-signed")
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true}) // the certificate is made at start-up
	if err != nil {
		t.Fatal(err)
	}
	if err := checkEcho(c); err != nil {
		t.Fatal(err)
	}
}
