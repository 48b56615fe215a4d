package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	jftp "github.com/jlaffaye/ftp"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/tlscert"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs the program with args on a free port and returns its address;
// cleanup stops it (as SIGINT does) and checks it returned nil.
func start(t *testing.T, args ...string) (net.Addr, *testtool.SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	out := &testtool.SyncBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), out, ready) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-errc:
		cancel()
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("not ready")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("no graceful stop")
		}
	})
	return addr, out
}

func TestServesFolderReadOnly(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644)
	addr, out := start(t, "-root", root)
	for _, want := range []string{"serving " + root, "ftp://" + addr.String(), "poller ", "try:  curl ftp://"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	c, err := jftp.Dial(addr.String(), jftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("anonymous", "anonymous"); err != nil {
		t.Fatal(err)
	}
	if got := retrieve(t, c, "hello.txt"); got != "hello\n" {
		t.Fatalf("hello.txt: %q", got)
	}
	if err := c.Stor("x", strings.NewReader("x")); err == nil {
		t.Fatal("anonymous upload succeeded")
	}
}

// TestUserAndFlags: -user and -users accounts, -anonymous=false, and the
// limits: PASV announces -public-ip (not the address connected to) with a
// port of -passive-ports, the session over -max-per-ip or -max-sessions
// gets 421, and idle sessions get 421 after -idle-timeout.
func TestUserAndFlags(t *testing.T) {
	root, bobRoot := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(bobRoot, "bob.txt"), []byte("bob's\n"), 0o644)
	hash, err := bcrypt.GenerateFromPassword([]byte("bob-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(t.TempDir(), "users")
	os.WriteFile(users, []byte("bob:"+string(hash)+":"+bobRoot+":ro\n"), 0o600)
	const (
		lo, hi      = 40100, 40199
		maxPerIP    = 3
		maxSessions = 5
		idle        = time.Second
	)
	addr, out := start(t, "-root", root, "-anonymous=false", "-user", "alice", "-pass", "pw", "-users", users,
		"-passive-ports", fmt.Sprintf("%d-%d", lo, hi), "-public-ip", "10.9.8.7", "-max-sessions", strconv.Itoa(maxSessions),
		"-max-per-ip", strconv.Itoa(maxPerIP), "-idle-timeout", idle.String())
	if !strings.Contains(out.String(), "curl -u alice:PASSWORD") {
		t.Errorf("output %q", out)
	}

	// -max-per-ip: one session more than allowed from 127.0.0.1 gets 421;
	// -max-sessions: so does one more than allowed in all, from 127.0.0.2.
	var idlers []*textproto.Conn
	for _, from := range []struct {
		ip       string
		sessions int    // greeted with 220
		refused  string // the 421 of the next one
	}{
		{"127.0.0.1", maxPerIP, "too many connections from your internet address"},
		{"127.0.0.2", maxSessions - maxPerIP, "too many connected users"},
	} {
		for range from.sessions {
			c, code, msg := session(t, from.ip, addr.String())
			if code != 220 {
				t.Fatalf("session %d: %d %s", len(idlers)+1, code, msg)
			}
			idlers = append(idlers, c)
		}
		if _, code, msg := session(t, from.ip, addr.String()); code != 421 || !strings.Contains(msg, from.refused) {
			t.Fatalf("one session more from %s: %d %s, want 421 %s", from.ip, code, msg, from.refused)
		}
	}
	connected := time.Now()
	// -idle-timeout: those sessions, which sent nothing, get 421 once it
	// has passed.
	for _, c := range idlers {
		code, msg, err := c.ReadResponse(421)
		if err != nil || !strings.Contains(msg, "Timeout") {
			t.Fatalf("idle session: %d %s, %v", code, msg, err)
		}
	}
	if waited := time.Since(connected); waited < idle/2 {
		t.Fatalf("idle sessions closed after %v, with -idle-timeout %v", waited, idle)
	}

	// -public-ip and -passive-ports: PASV names 10.9.8.7 (which the test
	// does not connect to), EPSV only the port.
	c := greeted(t, addr.String())
	for _, step := range []struct {
		cmd  string
		code int
	}{{"USER alice", 331}, {"PASS pw", 230}, {"PASV", 227}, {"EPSV", 229}} {
		id, err := c.Cmd("%s", step.cmd)
		if err != nil {
			t.Fatal(err)
		}
		c.StartResponse(id)
		_, msg, err := c.ReadResponse(step.code)
		c.EndResponse(id)
		if err != nil {
			t.Fatalf("%s: %v", step.cmd, err)
		}
		var port int
		switch step.code {
		case 227:
			var p1, p2 int
			if _, err := fmt.Sscanf(msg[strings.Index(msg, "("):], "(10,9,8,7,%d,%d)", &p1, &p2); err != nil {
				t.Fatalf("PASV: %q does not announce -public-ip: %v", msg, err)
			}
			port = p1<<8 | p2
		case 229:
			if _, err := fmt.Sscanf(msg[strings.Index(msg, "("):], "(|||%d|)", &port); err != nil {
				t.Fatalf("EPSV: %q: %v", msg, err)
			}
		default:
			continue
		}
		if port < lo || port > hi {
			t.Fatalf("%s: port %d outside -passive-ports %d-%d", step.cmd, port, lo, hi)
		}
	}
	c.Close()

	// -users: bob logs in to his own root, read-only.
	bob := dialJ(t, addr)
	if err := bob.Login("bob", "bob-pw"); err != nil {
		t.Fatal(err)
	}
	if got := retrieve(t, bob, "bob.txt"); got != "bob's\n" {
		t.Fatalf("bob.txt: %q", got)
	}
	if err := bob.Stor("x", strings.NewReader("x")); err == nil {
		t.Fatal("read-only upload succeeded")
	}
	bob.Quit()

	// -user, -anonymous=false.
	alice := dialJ(t, addr)
	defer alice.Quit()
	if err := alice.Login("anonymous", "x"); err == nil {
		t.Fatal("anonymous login with -anonymous=false")
	}
	if err := alice.Login("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	store(t, alice, root, "up.txt", "data")
}

// session opens a control connection from the local address ip to addr
// and reads its greeting.
func session(t *testing.T, ip, addr string) (*textproto.Conn, int, string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := textproto.NewConn(nc)
	code, msg, err := c.ReadResponse(0)
	if err != nil {
		t.Fatal(err)
	}
	return c, code, msg
}

// greeted opens a control connection that the server greets with 220,
// trying again for a while as long as it answers 421: the server counts a
// session out of its limits only once it has seen its close.
func greeted(t *testing.T, addr string) *textproto.Conn {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, code, msg := session(t, "127.0.0.1", addr)
		if code == 220 {
			return c
		}
		c.Close()
		if code != 421 || time.Now().After(deadline) {
			t.Fatalf("greeting %d %s", code, msg)
		}
	}
}

// dialJ connects a jlaffaye client to addr.
func dialJ(t *testing.T, addr net.Addr) *jftp.ServerConn {
	t.Helper()
	c, err := jftp.Dial(addr.String(), jftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-user", "a"},
		{"-pass", "b"},
		{"-passive-ports", "x"},
		{"-passive-ports", "10-20"},
		{"-public-ip", "::1"},
		{"-anonymous=false"},
		{"-users", "/nonexistent"},
		{"stray"},
		{"-tls-cert", "c.pem"},
		{"-tls-key", "k.pem"},
		{"-tls-cert", "/nonexistent", "-tls-key", "/nonexistent"},
		{"-tls-cert", "c.pem", "-tls-key", "k.pem", "-tls-self-signed"},
		{"-require-tls"},
		{"-require-tls-reuse"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, nil); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// fingerprint is the SHA-256 of the PEM certificate in path, as ftpd
// prints it: hex bytes in upper case joined by colons.
func fingerprint(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("no PEM in %s", path)
	}
	sum := sha256.Sum256(blk.Bytes)
	hex := make([]string, len(sum))
	for i, c := range sum {
		hex[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(hex, ":")
}

// retrieve downloads name with c.
func retrieve(t *testing.T, c *jftp.ServerConn, name string) string {
	t.Helper()
	r, err := c.Retr(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// store uploads data as name with c and checks it arrived under root.
func store(t *testing.T, c *jftp.ServerConn, root, name, data string) {
	t.Helper()
	if err := c.Stor(name, strings.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, name)); string(b) != data {
		t.Fatalf("%s: %q, want %q", name, b, data)
	}
}

// trustFile is a client TLS configuration trusting the PEM certificate in
// path.
func trustFile(t *testing.T, path string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", path)
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// TestTLSSelfSigned: -tls-self-signed makes a certificate, writes it where
// the printed command finds it, prints its fingerprint, and -require-tls
// refuses plaintext logins; a client trusting that file lists and
// downloads over TLS. The file and its folder go away with the server.
func TestTLSSelfSigned(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644)
	var caFile string
	t.Cleanup(func() { // runs after the server's cleanup (registered later) stopped it
		if caFile == "" {
			return
		}
		for _, p := range []string{caFile, filepath.Dir(caFile)} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s left behind", p)
			}
		}
	})
	addr, out := start(t, "-root", root, "-tls-self-signed", "-require-tls")
	text := out.String()
	const mark = "self-signed certificate for clients to trust: "
	i := strings.Index(text, mark)
	if i < 0 || !strings.Contains(text, "certificate SHA-256 ") || !strings.Contains(text, "curl --ssl-reqd --cacert ") {
		t.Fatalf("output %q", text)
	}
	caFile = strings.TrimSpace(strings.SplitN(text[i+len(mark):], "\n", 2)[0])
	if want := fingerprint(t, caFile); !strings.Contains(text, "certificate SHA-256 "+want+"\n") {
		t.Errorf("output %q lacks the fingerprint %s", text, want)
	}

	plain, err := jftp.Dial(addr.String(), jftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Login("anonymous", "x"); err == nil || !strings.Contains(err.Error(), "must use encryption") {
		t.Fatalf("plaintext login: %v", err)
	}
	plain.Quit()

	c, err := jftp.Dial(addr.String(), jftp.DialWithTimeout(10*time.Second), jftp.DialWithExplicitTLS(trustFile(t, caFile)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("anonymous", "x"); err != nil {
		t.Fatal(err)
	}
	if got := retrieve(t, c, "hello.txt"); got != "hello\n" {
		t.Fatalf("hello.txt: %q", got)
	}
}

// TestTLSCertFiles: -tls-cert and -tls-key serve FTPS with the given pair.
func TestTLSCertFiles(t *testing.T) {
	cert, err := tlscert.SelfSigned([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, cert.CertPEM, 0o644)
	os.WriteFile(keyFile, cert.KeyPEM, 0o600)
	root := t.TempDir()
	addr, _ := start(t, "-root", root, "-anonymous=false", "-user", "alice", "-pass", "pw",
		"-tls-cert", certFile, "-tls-key", keyFile, "-require-tls-reuse")
	cfg := trustFile(t, certFile)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4) // -require-tls-reuse
	c, err := jftp.Dial(addr.String(), jftp.DialWithTimeout(10*time.Second), jftp.DialWithExplicitTLS(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	store(t, c, root, "up.txt", "data")
}

// TestTLSSelfSignedHosts: the names the self-signed certificate is made for
// besides the loopback ones.
func TestTLSSelfSignedHosts(t *testing.T) {
	for _, tc := range []struct {
		addr, publicIP string
		want           []string
	}{
		{"127.0.0.1:2121", "", nil},
		{"localhost:2121", "", nil},
		{"[::1]:2121", "", nil},
		{":2121", "", nil},
		{"0.0.0.0:2121", "203.0.113.5", []string{"203.0.113.5"}},
		{"192.0.2.1:21", "203.0.113.5", []string{"192.0.2.1", "203.0.113.5"}},
		{"ftp.example:21", "", []string{"ftp.example"}},
	} {
		got := selfSignedHosts(options{addr: tc.addr, publicIP: tc.publicIP})
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s, %q: %q, want %q", tc.addr, tc.publicIP, got, tc.want)
		}
	}
}
