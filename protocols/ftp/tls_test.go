package ftp_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	jftp "github.com/jlaffaye/ftp"

	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/loop"
	"github.com/reactorkit/reactor/protocols/ftp"
	"github.com/reactorkit/reactor/tlscert"
)

// tlsServer is a testServer with FTPS: its certificate, and the file
// clients trust it from.
type tlsServer struct {
	*testServer
	cert   *tlscert.Cert
	caFile string
}

// startTLSServer serves FTPS with a new self-signed certificate for
// 127.0.0.1, written where curl, lftp and Python can trust it.
func startTLSServer(t testing.TB, cfg serverConfig) *tlsServer {
	t.Helper()
	cert, err := tlscert.SelfSigned([]string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, cert.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.opts = append([]ftp.Option{ftp.WithTLS(cert.ServerConfig())}, cfg.opts...)
	return &tlsServer{testServer: startServer(t, cfg), cert: cert, caFile: caFile}
}

// clientTLS is a client configuration that trusts only the server's
// certificate; cache, when not nil, lets it resume sessions.
func (ts *tlsServer) clientTLS(cache tls.ClientSessionCache) *tls.Config {
	cfg := ts.cert.ClientConfig()
	cfg.ServerName = "127.0.0.1"
	cfg.ClientSessionCache = cache
	return cfg
}

// authTLS upgrades a raw client's control connection.
func (c *client) authTLS(cfg *tls.Config) {
	c.t.Helper()
	c.expect("AUTH TLS", 234)
	tc := tls.Client(c.conn, cfg)
	tc.SetDeadline(time.Now().Add(opTimeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("control handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

// private logs testUser in over TLS with cfg, with PROT P for the data
// connections.
func (ts *tlsServer) private(t testing.TB, cfg *tls.Config) *client {
	t.Helper()
	c := dialClient(t, ts.addr)
	c.authTLS(cfg)
	c.login(testUser, testPass)
	c.expect("PBSZ 0", 200)
	c.expect("PROT P", 200)
	return c
}

// privateRetr starts RETR name for a private session, over a passive TLS
// data connection, which it returns.
func (ts *tlsServer) privateRetr(t testing.TB, name string) (*client, *tls.Conn) {
	t.Helper()
	cfg := ts.clientTLS(nil)
	c := ts.private(t, cfg)
	d := tls.Client(c.epsv(), cfg)
	t.Cleanup(func() { d.Close() })
	c.expectStart("RETR " + name)
	d.SetDeadline(time.Now().Add(opTimeout))
	return c, d
}

// expectStart sends a transfer command and fails unless it starts (150,
// or 125 when the data connection is already open).
func (c *client) expectStart(cmd string) {
	c.t.Helper()
	if code, text := c.cmd(cmd); code != 150 && code != 125 {
		c.t.Fatalf("%s: %d %s", cmd, code, text)
	}
}

// active sets up an active data connection, with EPRT when extended and
// PORT otherwise, and returns the connection the server made to us.
func (c *client) active(extended bool) net.Conn {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	defer ln.Close()
	p := ln.Addr().(*net.TCPAddr).Port
	if extended {
		c.expect("EPRT |1|127.0.0.1|"+strconv.Itoa(p)+"|", 200)
	} else {
		c.expect("PORT 127,0,0,1,"+strconv.Itoa(p>>8)+","+strconv.Itoa(p&0xff), 200)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(opTimeout))
	d, err := ln.Accept() // the server connected before its 200
	if err != nil {
		c.t.Fatal(err)
	}
	return d
}

// retrieveTLS runs a download over a new EPSV connection secured with cfg.
func (c *client) retrieveTLS(cfg *tls.Config, cmd string) ([]byte, int, string) {
	c.t.Helper()
	return c.retrieveTLSOn(c.epsv(), cfg, cmd)
}

// retrieveTLSOn runs a download over the data connection raw, which it
// secures with cfg as the TLS client, in either mode (RFC 4217 §7).
func (c *client) retrieveTLSOn(raw net.Conn, cfg *tls.Config, cmd string) ([]byte, int, string) {
	c.t.Helper()
	d := tls.Client(raw, cfg)
	defer d.Close()
	if code, text := c.cmd(cmd); code != 150 && code != 125 {
		return nil, code, text
	}
	d.SetDeadline(time.Now().Add(opTimeout))
	data, err := io.ReadAll(d)
	if err != nil {
		code, text := c.read()
		return data, code, text
	}
	code, text := c.read()
	return data, code, text
}

// storeTLS runs an upload over a new EPSV connection secured with cfg.
func (c *client) storeTLS(cfg *tls.Config, cmd string, data []byte) (int, string) {
	c.t.Helper()
	return c.storeTLSOn(c.epsv(), cfg, cmd, data)
}

// storeTLSOn runs an upload over the data connection raw, secured with cfg
// as the TLS client.
func (c *client) storeTLSOn(raw net.Conn, cfg *tls.Config, cmd string, data []byte) (int, string) {
	c.t.Helper()
	d := tls.Client(raw, cfg)
	defer d.Close()
	if code, text := c.cmd(cmd); code != 150 && code != 125 {
		return code, text
	}
	d.SetDeadline(time.Now().Add(opTimeout))
	if _, err := d.Write(data); err != nil {
		code, text := c.read()
		return code, text
	}
	d.Close() // close_notify, then FIN
	return c.read()
}

// TestTLSFTPSCommands: AUTH, PBSZ, PROT and CCC replies as vsftpd and RFC
// 4217 give them, FEAT, STAT, and transfers over passive and active TLS
// data connections with a raw client.
func TestTLSFTPSCommands(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, serverConfig{})
	ts.write(t, "f.bin", testtool.Pattern(300<<10, 5))
	ts.write(t, "a.txt", []byte("one\ntwo\n"))
	cfg := ts.clientTLS(nil)

	c := dialClient(t, ts.addr)
	if feat := c.expect("FEAT", 211); feat != featTLS {
		t.Errorf("FEAT:\n%s\nwant\n%s", feat, featTLS)
	}
	c.expect("PBSZ 0", 503)
	c.expect("PROT P", 503)
	c.expect("CCC", 533)
	c.expect("AUTH KERBEROS_V4", 504)
	c.authTLS(cfg)
	c.expect("AUTH TLS", 503)
	c.expect("CCC", 534)
	c.expect("PBSZ 0", 200)
	c.expect("PROT S", 536)
	c.expect("PROT X", 504)
	c.expect("PROT P", 200)
	c.login(testUser, testPass)
	if feat := c.expect("FEAT", 211); feat != featTLS {
		t.Errorf("FEAT after AUTH TLS and login:\n%s\nwant\n%s", feat, featTLS)
	}
	if stat := c.expect("STAT", 211); !strings.Contains(stat, "Control connection: TLS 1.3") || !strings.Contains(stat, "data connections: Private") {
		t.Errorf("STAT:\n%s", stat)
	}

	// Binary and ASCII downloads, REST, an upload, listings.
	for _, tc := range []struct {
		cmd  string
		want []byte
	}{
		{"RETR f.bin", testtool.Pattern(300<<10, 5)},
		{"RETR a.txt", []byte("one\ntwo\n")},
	} {
		got, code, text := c.retrieveTLS(cfg, tc.cmd)
		if code != 226 || !bytes.Equal(got, tc.want) {
			t.Fatalf("%s: %d %s, %d bytes", tc.cmd, code, text, len(got))
		}
	}
	c.expect("REST 1000", 350)
	if got, code, _ := c.retrieveTLS(cfg, "RETR f.bin"); code != 226 || !bytes.Equal(got, testtool.Pattern(300<<10, 5)[1000:]) {
		t.Fatalf("RETR after REST: %d, %d bytes", code, len(got))
	}
	c.expect("TYPE A", 200)
	if got, code, _ := c.retrieveTLS(cfg, "RETR a.txt"); code != 226 || string(got) != "one\r\ntwo\r\n" {
		t.Fatalf("ASCII RETR: %d %q", code, got)
	}
	c.expect("TYPE I", 200)
	up := testtool.Pattern(2<<20+3, 6)
	if code, text := c.storeTLS(cfg, "STOR up.bin", up); code != 226 {
		t.Fatalf("STOR: %d %s", code, text)
	}
	if !bytes.Equal(ts.read(t, "up.bin"), up) {
		t.Fatal("upload differs")
	}
	for _, cmd := range []string{"LIST", "NLST", "MLSD"} {
		got, code, text := c.retrieveTLS(cfg, cmd)
		if code != 226 || !strings.Contains(string(got), "up.bin") {
			t.Fatalf("%s: %d %s %q", cmd, code, text, got)
		}
	}
	// Active mode: the server dials, and is the TLS server all the same.
	for _, extended := range []bool{false, true} {
		if got, code, text := c.retrieveTLSOn(c.active(extended), cfg, "RETR f.bin"); code != 226 || !bytes.Equal(got, testtool.Pattern(300<<10, 5)) {
			t.Fatalf("active (EPRT %v) RETR: %d %s, %d bytes", extended, code, text, len(got))
		}
		if code, text := c.storeTLSOn(c.active(extended), cfg, "STOR act.bin", up); code != 226 || !bytes.Equal(ts.read(t, "act.bin"), up) {
			t.Fatalf("active (EPRT %v) STOR: %d %s", extended, code, text)
		}
		if got, code, text := c.retrieveTLSOn(c.active(extended), cfg, "MLSD"); code != 226 || !strings.Contains(string(got), "act.bin") {
			t.Fatalf("active (EPRT %v) MLSD: %d %s %q", extended, code, text, got)
		}
	}
	// PROT P set after PORT still secures the connection PORT made.
	c.expect("PROT C", 200)
	d := c.active(false)
	c.expect("PROT P", 200)
	if got, code, text := c.retrieveTLSOn(d, cfg, "RETR a.txt"); code != 226 || string(got) != "one\ntwo\n" {
		t.Fatalf("PROT P after PORT: %d %s %q", code, text, got)
	}
	// PROT C: plaintext data connections again, on the same session.
	c.expect("PROT C", 200)
	if got, code := c.retrieve("RETR a.txt"); code != 226 || string(got) != "one\ntwo\n" {
		t.Fatalf("PROT C RETR: %d %q", code, got)
	}
	c.expect("QUIT", 221)
}

// TestTLSFTPSNoInjection: plaintext sent behind AUTH TLS goes to the
// handshake, which fails; it is never run as a command.
func TestTLSFTPSNoInjection(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, serverConfig{})
	c := dialClient(t, ts.addr)
	c.send("AUTH TLS\r\nUSER anonymous\r\nPASS x\r\nMKD injected")
	if code, text := c.read(); code != 234 {
		t.Fatalf("AUTH: %d %s", code, text)
	}
	if !c.closed() {
		t.Fatal("the server kept a connection whose handshake got plaintext")
	}
	if _, err := os.Stat(filepath.Join(ts.root, "injected")); err == nil {
		t.Fatal("an injected command ran")
	}
	// The server still serves.
	c2 := dialClient(t, ts.addr)
	c2.authTLS(ts.clientTLS(nil))
	c2.login(testUser, testPass)
}

// TestTLSFTPSPlaintextDataRefused: under PROT P a plaintext data connection
// is refused with 522: a download's client, waiting for data, after the
// handshake timeout; an upload's plaintext bytes at once.
func TestTLSFTPSPlaintextDataRefused(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, serverConfig{opts: []ftp.Option{ftp.WithTLSHandshakeTimeout(time.Second)}})
	ts.write(t, "f", []byte("secret"))
	cfg := ts.clientTLS(nil)
	c := ts.private(t, cfg)

	d := c.epsv()
	c.expectStart("RETR f")
	d.SetReadDeadline(time.Now().Add(opTimeout))
	if b, _ := io.ReadAll(d); bytes.Contains(b, []byte("secret")) {
		t.Fatal("plaintext data sent under PROT P")
	}
	if code, text := c.read(); code != 522 {
		t.Fatalf("RETR: %d %s, want 522", code, text)
	}

	d = c.epsv()
	c.expectStart("STOR g")
	d.Write([]byte("plaintext upload bytes\r\n"))
	if code, text := c.read(); code != 522 {
		t.Fatalf("STOR: %d %s, want 522", code, text)
	}
	d.Close()
	if b, err := os.ReadFile(filepath.Join(ts.root, "g")); err == nil && len(b) > 0 {
		t.Fatalf("plaintext upload stored: %q", b)
	}
	// The session goes on, over TLS.
	if got, code, _ := c.retrieveTLS(cfg, "RETR f"); code != 226 || string(got) != "secret" {
		t.Fatalf("RETR over TLS: %d %q", code, got)
	}
}

// TestTLSFTPSRequireTLS: WithRequireTLS refuses logins before AUTH TLS
// with 530 and transfers without PROT P with 522, as vsftpd does.
func TestTLSFTPSRequireTLS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, serverConfig{opts: []ftp.Option{ftp.WithRequireTLS(true)}})
	ts.write(t, "f", []byte("data"))
	c := dialClient(t, ts.addr)
	if text := c.expect("USER "+testUser, 530); text != "Non-anonymous sessions must use encryption." {
		t.Errorf("USER: %q", text)
	}
	if text := c.expect("USER anonymous", 530); text != "Anonymous sessions must use encryption." {
		t.Errorf("USER anonymous: %q", text)
	}
	c.expect("PASS "+testPass, 503)
	c.expect("LIST", 530)
	cfg := ts.clientTLS(nil)
	c.authTLS(cfg)
	c.login(testUser, testPass)
	c.epsv()
	if text := c.expect("LIST", 522); text != "Data connections must be encrypted." {
		t.Errorf("LIST: %q", text)
	}
	c.expect("PBSZ 0", 200)
	c.expect("PROT C", 200)
	c.expect("RETR f", 522)
	c.expect("PROT P", 200)
	if got, code, text := c.retrieveTLS(cfg, "RETR f"); code != 226 || string(got) != "data" {
		t.Fatalf("RETR: %d %s %q", code, text, got)
	}
}

// TestTLSFTPSRequireReuse: with WithRequireTLSReuse a data connection must
// resume the control connection's TLS session (522 otherwise); a session
// of another control connection does not count.
func TestTLSFTPSRequireReuse(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, serverConfig{opts: []ftp.Option{ftp.WithRequireTLSReuse(true)}})
	ts.write(t, "f", []byte("data"))

	// No session cache: no reuse.
	c := ts.private(t, ts.clientTLS(nil))
	if _, code, text := c.retrieveTLS(ts.clientTLS(nil), "RETR f"); code != 522 {
		t.Fatalf("without reuse: %d %s, want 522", code, text)
	}
	// Uploads are refused before a byte reaches the disk.
	if code, text := c.storeTLS(ts.clientTLS(nil), "STOR g", []byte("x")); code != 522 {
		t.Fatalf("STOR without reuse: %d %s, want 522", code, text)
	}
	// Active mode alike.
	if _, code, text := c.retrieveTLSOn(c.active(true), ts.clientTLS(nil), "RETR f"); code != 522 {
		t.Fatalf("active without reuse: %d %s, want 522", code, text)
	}
	// The control connection's session, resumed.
	cache := tls.NewLRUClientSessionCache(4)
	cfg := ts.clientTLS(cache)
	c = ts.private(t, cfg)
	for range 3 {
		if got, code, text := c.retrieveTLS(cfg, "RETR f"); code != 226 || string(got) != "data" {
			t.Fatalf("with reuse: %d %s %q", code, text, got)
		}
	}
	if code, text := c.storeTLS(cfg, "STOR g", []byte("x")); code != 226 {
		t.Fatalf("STOR with reuse: %d %s", code, text)
	}
	if got, code, text := c.retrieveTLSOn(c.active(false), cfg, "RETR f"); code != 226 || string(got) != "data" {
		t.Fatalf("active with reuse: %d %s %q", code, text, got)
	}
	// A second session replaces the client's cached ticket with its own;
	// the first session's data connection then offers a ticket of another
	// control connection, which the server does not resume.
	other := ts.private(t, cfg)
	other.expect("NOOP", 200) // its ticket has arrived
	if _, code, text := c.retrieveTLS(cfg, "RETR f"); code != 522 {
		t.Fatalf("another session's ticket: %d %s, want 522", code, text)
	}
}

// TestTLSFTPSHandshakeStall: a client that stops in the middle of the
// control connection's handshake is closed after the handshake timeout,
// WithTLSHandshakeTimeout's or else the listener's; meanwhile and
// afterwards the server serves other sessions.
func TestTLSFTPSHandshakeStall(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	for _, tc := range []struct {
		name string
		cfg  serverConfig
	}{
		{"WithTLSHandshakeTimeout", serverConfig{loops: 1, opts: []ftp.Option{ftp.WithTLSHandshakeTimeout(timeout)}}},
		{"listener", serverConfig{loops: 1, listen: []loop.Option{loop.WithHandshakeTimeout(timeout)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testHandshakeStall(t, tc.cfg)
		})
	}
}

func testHandshakeStall(t *testing.T, sc serverConfig) {
	ts := startTLSServer(t, sc)
	ts.write(t, "f", []byte("data"))
	stalled := dialClient(t, ts.addr)
	stalled.expect("AUTH TLS", 234)
	// The first bytes of a TLS record header, and nothing more.
	stalled.conn.Write([]byte{22, 3, 1, 0})
	start := time.Now()

	cfg := ts.clientTLS(nil)
	c := ts.private(t, cfg)
	if got, code, _ := c.retrieveTLS(cfg, "RETR f"); code != 226 || string(got) != "data" {
		t.Fatalf("RETR: %d %q", code, got)
	}
	if !stalled.closed() {
		t.Fatal("the stalled handshake's connection is still open")
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("closed after %v", el)
	}
	deadline := time.Now().Add(opTimeout)
	for ts.srv.Sessions() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := ts.srv.Sessions(); n != 1 {
		t.Fatalf("%d sessions, want 1", n)
	}
	c.expect("NOOP", 200)
}

// TestTLSFTPSShutdownDuringRETR: a graceful shutdown lets a TLS download
// (chunks read by the disk workers, no sendfile) finish: 226, then 421.
func TestTLSFTPSShutdownDuringRETR(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, serverConfig{loops: 1})
	big := testtool.Pattern(16<<20, 8)
	ts.write(t, "big", big)
	c, d := ts.privateRetr(t, "big")
	head := make([]byte, 256<<10)
	if _, err := io.ReadFull(d, head); err != nil {
		t.Fatal(err)
	}
	done := shutdownAsync(ts.testServer, 20*time.Second)
	waitRefused(t, ts.addr)
	rest, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(head, rest...), big) {
		t.Fatalf("got %d bytes, want %d", len(head)+len(rest), len(big))
	}
	for _, want := range []int{226, 421} {
		if code, text := c.read(); code != want {
			t.Fatalf("got %d %s, want %d", code, text, want)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestTLSFTPSJlaffaye: github.com/jlaffaye/ftp with DialWithExplicitTLS
// (it sends PBSZ 0 and PROT P itself): listing, download, upload, in both
// passive modes.
func TestTLSFTPSJlaffaye(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []jftp.DialOption
	}{
		{"EPSV", nil},
		{"PASV", []jftp.DialOption{jftp.DialWithDisabledEPSV(true), jftp.DialWithDisabledMLSD(true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startTLSServer(t, serverConfig{})
			big := testtool.Pattern(3<<20+9, 21)
			ts.write(t, "dir/big.bin", big)
			c := dialJ(t, ts.addr, testUser, testPass, append(tc.opts, jftp.DialWithExplicitTLS(ts.clientTLS(nil)))...)
			entries, err := c.List("/dir")
			if err != nil || len(entries) != 1 || entries[0].Name != "big.bin" || entries[0].Size != uint64(len(big)) {
				t.Fatalf("List: %v %+v", err, entries)
			}
			if got := retr(t, c, "/dir/big.bin", 0); !bytes.Equal(got, big) {
				t.Fatalf("RETR: %d bytes", len(got))
			}
			if got := retr(t, c, "/dir/big.bin", 12345); !bytes.Equal(got, big[12345:]) {
				t.Fatalf("RETR from 12345: %d bytes", len(got))
			}
			if err := c.Stor("/dir/up.bin", bytes.NewReader(big)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ts.read(t, "dir/up.bin"), big) {
				t.Fatal("upload differs")
			}
			if err := c.Stor("/empty", bytes.NewReader(nil)); err != nil {
				t.Fatal(err)
			}
			if got := retr(t, c, "/empty", 0); len(got) != 0 {
				t.Fatalf("empty file: %d bytes", len(got))
			}
		})
	}
}

// curlSetup starts an FTPS server with opts that serves big.bin, a file of
// several MiB, and returns it, that file's bytes, and curlPaths with src
// holding them for uploads.
func curlSetup(t *testing.T, opts ...ftp.Option) (ts *tlsServer, big []byte, p curlPaths) {
	t.Helper()
	ts = startTLSServer(t, serverConfig{opts: opts})
	big = testtool.Pattern(3<<20+5, 31)
	ts.write(t, "big.bin", big)
	p.tmp = t.TempDir()
	p.out = filepath.Join(p.tmp, "out")
	p.src = filepath.Join(p.tmp, "src")
	if err := os.WriteFile(p.src, big, 0o644); err != nil {
		t.Fatal(err)
	}
	p.base = "ftp://" + ts.addr + "/"
	p.auth = "ftp://" + testUser + ":" + testPass + "@" + ts.addr + "/"
	return ts, big, p
}

// curlPaths are the files and URLs of a curl test (see curlSetup).
type curlPaths struct {
	tmp, out, src string // curl's folder, its download, its upload's source
	base, auth    string // the root's URL, anonymous and as testUser
}

// TestTLSFTPSCurl: curl --ssl-reqd --cacert lists, downloads and uploads
// in both passive modes (EPSV and PASV) on a server that requires TLS and
// session reuse; --ftp-ssl-control keeps data in the clear. Active mode
// is TestTLSFTPSCurlActive.
func TestTLSFTPSCurl(t *testing.T) {
	curl := testtool.Path(t, "curl", "curl")
	t.Parallel()
	ts, big, p := curlSetup(t, ftp.WithRequireTLSReuse(true))
	tmp, out, src, base, auth := p.tmp, p.out, p.src, p.base, p.auth
	tlsArgs := []string{"-sS", "--fail", "--ssl-reqd", "--cacert", ts.caFile}
	for _, mode := range [][]string{nil, {"--disable-epsv"}} {
		os.Remove(out)
		runTool(t, tmp, curl, append(append(tlsArgs, mode...), "-o", out, base+"big.bin")...)
		if got, _ := os.ReadFile(out); !bytes.Equal(got, big) {
			t.Fatalf("%v: downloaded %d bytes", mode, len(got))
		}
		name := "up" + strings.Join(mode, "") + ".bin"
		runTool(t, tmp, curl, append(append(tlsArgs, mode...), "-T", src, auth+name)...)
		if !bytes.Equal(ts.read(t, name), big) {
			t.Fatalf("%v: upload differs", mode)
		}
		if list := runTool(t, tmp, curl, append(append(tlsArgs, mode...), base)...); !strings.Contains(list, " big.bin\n") {
			t.Fatalf("%v: listing %q", mode, list)
		}
	}
	// Resume a download over TLS.
	os.WriteFile(out, big[:1<<20], 0o644)
	runTool(t, tmp, curl, append(tlsArgs, "-C", "-", "-o", out, base+"big.bin")...)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, big) {
		t.Fatalf("resumed download: %d bytes", len(got))
	}
	// TLS on the control connection only.
	os.Remove(out)
	runTool(t, tmp, curl, "-sS", "--fail", "--ftp-ssl-control", "--cacert", ts.caFile, "-o", out, base+"big.bin")
	if got, _ := os.ReadFile(out); !bytes.Equal(got, big) {
		t.Fatalf("--ftp-ssl-control: %d bytes", len(got))
	}
	// A wrong trust anchor fails the handshake on the client's side.
	other, err := tlscert.SelfSigned([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherCA := filepath.Join(tmp, "other.pem")
	os.WriteFile(otherCA, other.CertPEM, 0o644)
	if err := exec.Command(curl, "-sS", "--fail", "--ssl-reqd", "--cacert", otherCA, base).Run(); err == nil {
		t.Fatal("curl trusted a certificate it was not given")
	}
	c := dialClient(t, ts.addr)
	c.expect("NOOP", 200)
}

// curlVersion returns the major and minor version of the curl at path.
func curlVersion(t *testing.T, path string) (major, minor int) {
	t.Helper()
	out := runTool(t, "", path, "--version")
	f := strings.Fields(out) // "curl 7.88.1 (x86_64-pc-linux-gnu) …"
	if len(f) < 2 {
		t.Fatalf("curl --version: %q", out)
	}
	v := strings.Split(f[1], ".")
	if len(v) < 2 {
		t.Fatalf("curl --version: %q", out)
	}
	major, err1 := strconv.Atoi(v[0])
	minor, err2 := strconv.Atoi(v[1])
	if err1 != nil || err2 != nil {
		t.Fatalf("curl --version: %q", out)
	}
	return major, minor
}

// TestTLSFTPSCurlActive: curl -P (active mode, EPRT then PORT) with
// --ssl-reqd: the server dials the data connection and is its TLS server
// (RFC 4217 §7). curl 7.87.0 to 7.88.x cannot do active FTPS: they never
// start TLS on the data connection they accept (curl/curl#10666, fixed in
// 8.0.0 by curl/curl#10669) and read and write it in plaintext, so there
// the test checks that the server refuses it, 522 after its handshake
// timeout for a download and at once for an upload, with no plaintext
// stored or sent; with other versions it lists, downloads and uploads.
// Active mode with TLS on the control connection only works with every
// version. The server does not require session reuse here, which this
// curl cannot show for active data connections.
func TestTLSFTPSCurlActive(t *testing.T) {
	curl := testtool.Path(t, "curl", "curl")
	t.Parallel()
	ts, big, p := curlSetup(t, ftp.WithTLSHandshakeTimeout(2*time.Second))
	tmp, out, src, base, auth := p.tmp, p.out, p.src, p.base, p.auth
	args := []string{"-sS", "--fail", "--ssl-reqd", "--cacert", ts.caFile, "-P", "127.0.0.1"}

	if major, minor := curlVersion(t, curl); major == 7 && minor >= 87 {
		t.Logf("curl %d.%d cannot do active FTPS (curl/curl#10666): checking the refusal", major, minor)
		for _, tc := range []struct{ what, url string }{{"download", base + "big.bin"}, {"listing", base}} {
			os.Remove(out)
			if b, err := exec.Command(curl, append(args, "-o", out, tc.url)...).CombinedOutput(); err == nil {
				t.Fatalf("%s in plaintext under PROT P succeeded: %s", tc.what, b)
			}
			if got, _ := os.ReadFile(out); len(got) > 0 {
				t.Fatalf("%s: %d plaintext bytes reached the client", tc.what, len(got))
			}
		}
		if b, err := exec.Command(curl, append(args, "-T", src, auth+"up.bin")...).CombinedOutput(); err == nil {
			t.Fatalf("plaintext upload under PROT P succeeded: %s", b)
		}
		if got, err := os.ReadFile(filepath.Join(ts.root, "up.bin")); err == nil && len(got) > 0 {
			t.Fatalf("%d plaintext bytes stored", len(got))
		}
	} else {
		os.Remove(out)
		runTool(t, tmp, curl, append(args, "-o", out, base+"big.bin")...)
		if got, _ := os.ReadFile(out); !bytes.Equal(got, big) {
			t.Fatalf("downloaded %d bytes", len(got))
		}
		runTool(t, tmp, curl, append(args, "-T", src, auth+"up.bin")...)
		if !bytes.Equal(ts.read(t, "up.bin"), big) {
			t.Fatal("upload differs")
		}
		if list := runTool(t, tmp, curl, append(args, base)...); !strings.Contains(list, " big.bin\n") {
			t.Fatalf("listing %q", list)
		}
	}
	// TLS on the control connection only: active data in the clear.
	os.Remove(out)
	runTool(t, tmp, curl, "-sS", "--fail", "--ftp-ssl-control", "--cacert", ts.caFile, "-P", "127.0.0.1", "-o", out, base+"big.bin")
	if got, _ := os.ReadFile(out); !bytes.Equal(got, big) {
		t.Fatalf("--ftp-ssl-control -P: %d bytes", len(got))
	}
	runTool(t, tmp, curl, "-sS", "--fail", "--ftp-ssl-control", "--cacert", ts.caFile, "-P", "127.0.0.1", "-T", src, auth+"clear.bin")
	if !bytes.Equal(ts.read(t, "clear.bin"), big) {
		t.Fatal("--ftp-ssl-control -P: upload differs")
	}
	c := dialClient(t, ts.addr)
	c.expect("NOOP", 200)
}

// TestTLSFTPSLftpMirror: lftp verifying the certificate, forcing TLS on
// control and data connections, mirrors a tree down and back up with
// checksums compared, on a server that requires TLS and session reuse, in
// passive and in active mode (lftp resumes the control connection's
// session on the data connections the server dials too).
func TestTLSFTPSLftpMirror(t *testing.T) {
	lftp := testtool.Path(t, "lftp", "lftp")
	t.Parallel()
	for _, mode := range []struct {
		name, set string
		use, not  string // commands lftp's debug output must show, and not show
	}{
		{"passive", "set ftp:passive-mode on", "---> PASV", "---> PORT"},
		// Without auto-passive-mode lftp never falls back to passive.
		{"active", "set ftp:passive-mode off; set ftp:auto-passive-mode no", "---> PORT", "---> PASV"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			testLftpMirrorTLS(t, lftp, mode.set, mode.use, mode.not)
		})
	}
}

func testLftpMirrorTLS(t *testing.T, lftp, setMode, use, not string) {
	ts := startTLSServer(t, serverConfig{opts: []ftp.Option{ftp.WithRequireTLS(true), ftp.WithRequireTLSReuse(true)}})
	makeTree(t, ts.root)
	_, port, _ := net.SplitHostPort(ts.addr)
	local := t.TempDir()
	script := func(cmds string) string {
		return "set net:max-retries 1; set net:timeout 20; set cmd:fail-exit yes; " +
			"set ssl:ca-file " + ts.caFile + "; set ssl:verify-certificate yes; " +
			"set ftp:ssl-force true; set ftp:ssl-protect-data true; set ftp:ssl-protect-list true; " +
			setMode + "; " + cmds + "; quit"
	}
	for _, run := range []struct{ cmds, from, to string }{
		{"mirror / down", ts.root, filepath.Join(local, "down")},
		{"mkdir -p /up; mirror -R down /up/tree", filepath.Join(local, "down"), filepath.Join(ts.root, "up", "tree")},
	} {
		out := runTool(t, local, lftp, "-d", "-u", testUser+","+testPass, "-p", port, "-e", script(run.cmds), "127.0.0.1")
		if !strings.Contains(out, use) || strings.Contains(out, not) {
			t.Fatalf("%s: lftp should use %q, not %q:\n%s", run.cmds, use, not, out)
		}
		sameTree(t, run.from, run.to)
	}
}

// pythonTLSSession is an ftplib.FTP_TLS session with PROT P: listing,
// download, upload, ABOR during a download, trusting only the test
// certificate; in passive mode, or active with "active" as its last
// argument.
const pythonTLSSession = `
import ftplib, io, ssl, sys
host, port, user, pw, ca, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
ctx = ssl.create_default_context(cafile=ca)
f = ftplib.FTP_TLS(context=ctx)
f.connect(host, port, timeout=20)
f.login(user, pw)
f.prot_p()
f.set_pasv(mode != 'active')
names = f.nlst()
assert 'big.bin' in names, names
lines = []
f.retrlines('LIST', lines.append)
assert any(l.endswith(' big.bin') for l in lines), lines
data = bytes(range(256)) * 8192
f.storbinary('STOR up.bin', io.BytesIO(data))
got = io.BytesIO()
f.retrbinary('RETR up.bin', got.write)
assert got.getvalue() == data
facts = dict(f.mlsd())
assert facts['up.bin']['size'] == str(len(data)), facts
f.storlines('STOR lines.txt', io.BytesIO(b'one\ntwo\n'))
lines = []
f.retrlines('RETR lines.txt', lines.append)
assert lines == ['one', 'two'], lines
# ABOR during a download: FTP_TLS sends it without urgent data.
f.voidcmd('TYPE I')
conn = f.transfercmd('RETR big.bin')
conn.recv(65536)
# The transfer is running (32 MiB, barely read): 426 for it, then 226.
resp = f.abort()
assert resp[:3] == '426', resp
resp = f.getresp()
assert resp[:3] == '226', resp
conn.close()
assert f.voidcmd('NOOP')[:3] == '200'
f.prot_c()
got = io.BytesIO()
f.retrbinary('RETR up.bin', got.write)
assert got.getvalue() == data
f.quit()
print('python ftplib TLS ok')
`

// TestTLSFTPSPythonFtplib: Python's ftplib.FTP_TLS with prot_p(), which
// does not reuse TLS sessions (so the server must not require reuse), in
// passive mode and, with set_pasv(False), in active mode (PORT).
func TestTLSFTPSPythonFtplib(t *testing.T) {
	py := testtool.Path(t, "python3", "python3")
	t.Parallel()
	for _, mode := range []string{"passive", "active"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ts := startTLSServer(t, serverConfig{})
			ts.write(t, "big.bin", testtool.Pattern(32<<20, 41))
			host, port, _ := net.SplitHostPort(ts.addr)
			out := runTool(t, "", py, "-c", pythonTLSSession, host, port, testUser, testPass, ts.caFile, mode)
			if !strings.Contains(out, "python ftplib TLS ok") {
				t.Fatal(out)
			}
		})
	}
}

// TestTLSFTPSBoundedQueue: a TLS download to a client that stops reading
// queues no more than about the data connection's high watermark (1 MiB)
// plus one chunk: the producer waits for OnWritable instead of reading
// the whole file into memory. Once the client reads again, it completes.
func TestTLSFTPSBoundedQueue(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, serverConfig{loops: 1})
	big := testtool.Pattern(48<<20, 9)
	ts.write(t, "big", big)
	c, d := ts.privateRetr(t, "big")
	head := make([]byte, 1)
	if _, err := io.ReadFull(d, head); err != nil {
		t.Fatal(err)
	}
	// Let the server fill the socket buffers and its queue.
	var queued int64
	for range 20 {
		time.Sleep(25 * time.Millisecond)
		queued = max(queued, ts.ls.Stats().Total.Queued)
	}
	t.Logf("most queued: %d bytes", queued)
	if queued > 2<<20 {
		t.Fatalf("%d bytes queued for a stalled reader", queued)
	}
	d.SetDeadline(time.Now().Add(opTimeout))
	rest, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(head, rest...), big) {
		t.Fatalf("got %d bytes, want %d", 1+len(rest), len(big))
	}
	if code, text := c.read(); code != 226 {
		t.Fatalf("%d %s", code, text)
	}
}
