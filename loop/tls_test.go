package loop_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/loop"
	"github.com/reactorkit/reactor/tlscert"
)

func testCert(t testing.TB) *tlscert.Cert {
	t.Helper()
	c, err := tlscert.SelfSigned([]string{"localhost", "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tlsDial(t testing.TB, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestTLSEcho echoes payloads from 1 B to 16 MiB over TLS to a crypto/tls
// client, then 200 connections at once.
func TestTLSEcho(t *testing.T) {
	cert := testCert(t)
	_, addr := serve(t, echoProto{}, loop.WithTLS(cert.ServerConfig()))
	for _, size := range []int{1, 1000, 16<<10 + 1, 1 << 20, 16 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := tlsDial(t, addr, cert.ClientConfig())
			r := rand.New(rand.NewPCG(uint64(size), 9))
			if err := echoCheck(c, testtool.Pattern(size, size), func() int { return 1 + r.IntN(100<<10) }); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("200 concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		size := 256 << 10
		if raceEnabled {
			size = 32 << 10
		}
		for i := range 200 {
			wg.Go(func() {
				c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cert.ClientConfig())
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Minute))
				r := rand.New(rand.NewPCG(uint64(i), 10))
				if err := echoCheck(c, testtool.Pattern(size, i), func() int { return 1 + r.IntN(16<<10) }); err != nil {
					t.Errorf("conn %d: %v", i, err)
				}
			})
		}
		wg.Wait()
	})
}

// TestTLSSlowReader: backpressure works above TLS; the server stops reading
// from a peer that does not read, and every byte arrives once it does.
func TestTLSSlowReader(t *testing.T) {
	cert := testCert(t)
	var maxQueued atomic.Int64
	p := queueEcho(&maxQueued)
	const high = 256 << 10
	_, addr := serve(t, p, loop.WithTLS(cert.ServerConfig()), loop.WithWriteWatermarks(high, 64<<10), loop.WithSocketBuffers(64<<10, 64<<10))
	c := tlsDial(t, addr, cert.ClientConfig())
	data := testtool.Pattern(16<<20, 3)
	sent := sendAndCloseWrite(c, data)
	waitFor(t, 10*time.Second, "the high watermark", func() bool { return maxQueued.Load() > high })
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-sent:
		t.Fatalf("writer finished (%v) though the server should have stopped reading", err)
	default:
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes back, want %d", len(got), len(data))
	}
	// A bound only a broken design exceeds: a read's worth of plaintext, its
	// TLS overhead, on top of the watermark.
	if q := maxQueued.Load(); q > high+2*loop.DefaultReadBufferSize {
		t.Errorf("queue reached %d bytes", q)
	}
}

// TestTLSBadPeers: a plaintext client, a client that stalls mid-handshake,
// and garbage records, before the handshake or after it, each close only
// their own connection, with a log line; the server keeps serving TLS
// clients.
func TestTLSBadPeers(t *testing.T) {
	cert := testCert(t)
	var logs testtool.SyncBuffer
	p := newRecorder()
	p.onData = echoProto{}.OnData
	_, addr := serve(t, p, loop.WithTLS(cert.ServerConfig()), loop.WithHandshakeTimeout(300*time.Millisecond),
		loop.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	good := tlsDial(t, addr, cert.ClientConfig())

	tests := []struct {
		name string
		send func(c net.Conn)
		log  string // expected in the log
	}{
		{name: "plaintext client", send: func(c net.Conn) { io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") },
			log: "does not look like a TLS handshake"},
		{name: "stalls mid-handshake", send: func(c net.Conn) { c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}) },
			log: "TLS handshake timeout"},
		{name: "garbage record", send: func(c net.Conn) { c.Write(bytes.Repeat([]byte{0x17, 0xff}, 600)) },
			log: "TLS handshake failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			tt.send(c)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c) // until the server closes it
			waitFor(t, 5*time.Second, "the log line", func() bool { return strings.Contains(logs.String(), tt.log) })
			if err := echoCheckNoClose(good, []byte("still here")); err != nil {
				t.Fatalf("good client after %s: %v", tt.name, err)
			}
		})
	}
	if n := len(p.opened); n != 1 {
		t.Fatalf("OnOpen ran %d times; only the good client finished a handshake", n)
	}
	t.Run("garbage after the handshake", func(t *testing.T) {
		raw := dial(t, addr)
		cfg := cert.ClientConfig()
		cfg.ServerName = "localhost"
		tc := tls.Client(raw, cfg)
		if err := echoCheckNoClose(tc, []byte("before the garbage")); err != nil {
			t.Fatal(err)
		}
		// An application-data record that does not decrypt.
		raw.Write(append([]byte{0x17, 0x03, 0x03, 0x00, 0x40}, bytes.Repeat([]byte{0xa5}, 0x40)...))
		raw.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, raw) // until the server closes it
		ev := p.waitClose(t, 5*time.Second)
		if ev.err == nil || !strings.Contains(ev.err.Error(), "bad record MAC") {
			t.Fatalf("OnClose(%v), want the record's error", ev.err)
		}
		const logged = "TLS failed after the handshake"
		waitFor(t, 5*time.Second, "the log line", func() bool {
			return strings.Contains(logs.String(), logged) && strings.Contains(logs.String(), "bad record MAC")
		})
		if n := strings.Count(logs.String(), logged); n != 1 {
			t.Errorf("logged %d times:\n%s", n, logs.String())
		}
		if err := echoCheckNoClose(good, []byte("still here")); err != nil {
			t.Fatalf("good client after the garbage: %v", err)
		}
	})
}

// echoCheckNoClose writes data and reads the echo back, leaving the
// connection open.
func echoCheckNoClose(c net.Conn, data []byte) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(data); err != nil {
		return err
	}
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("echo %q", got)
	}
	return nil
}

// TestTLSDial dials TLS servers from a loop: a good certificate, a wrong
// name, an expired certificate, then the good server again. Dial returns
// once the handshake is done, or with its error; the failed handshakes leave
// both servers serving. Each server has one loop, so the last dial runs on
// the loops that saw the failures.
func TestTLSDial(t *testing.T) {
	good := testCert(t)
	expired, err := tlscert.SelfSignedFrom([]string{"localhost", "127.0.0.1"}, time.Now().Add(-48*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, goodAddr := serve(t, echoProto{}, loop.WithLoops(1), loop.WithTLS(good.ServerConfig()))
	_, expiredAddr := serve(t, echoProto{}, loop.WithLoops(1), loop.WithTLS(expired.ServerConfig()))
	_, port, _ := net.SplitHostPort(goodAddr)
	tests := []struct {
		name    string
		address string
		cfg     *tls.Config
		check   func(error) bool // nil: must succeed
	}{
		{name: "good", address: net.JoinHostPort("localhost", port), cfg: good.ClientConfig()},
		{name: "wrong name", address: goodAddr,
			cfg:   func() *tls.Config { c := good.ClientConfig(); c.ServerName = "example.com"; return c }(),
			check: func(err error) bool { var e x509.HostnameError; return errors.As(err, &e) }},
		{name: "expired", address: expiredAddr, cfg: expired.ClientConfig(),
			check: func(err error) bool {
				var e x509.CertificateInvalidError
				return errors.As(err, &e) && e.Reason == x509.Expired
			}},
		{name: "good again", address: goodAddr, cfg: good.ClientConfig()},
	}
	s := newServer(t, loop.WithLoops(1))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newRecorder()
			answer := make(chan string, 1)
			p.onOpen = func(c *conn.Conn) { c.Write([]byte("hello tls")) }
			p.onData = func(c *conn.Conn) {
				if c.InboundLen() >= 9 {
					b, _ := c.Next(9)
					answer <- string(b)
					c.Close()
				}
			}
			c, err := s.Dial(context.Background(), "tcp", tt.address, p, loop.WithTLS(tt.cfg), loop.WithHandshakeTimeout(5*time.Second))
			if tt.check != nil {
				if err == nil || !tt.check(err) {
					t.Fatalf("Dial: %v", err)
				}
				if len(p.opened) != 0 || len(p.closed) != 0 {
					t.Fatal("OnOpen or OnClose ran for a failed handshake")
				}
				return
			}
			if err != nil || c == nil {
				t.Fatalf("Dial: %v", err)
			}
			select {
			case a := <-answer:
				if a != "hello tls" {
					t.Fatalf("answer %q", a)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no answer")
			}
		})
	}
}

// startTLSProto speaks a line protocol: "STARTTLS" is answered "OK" in
// plaintext and upgrades the connection; other lines are echoed.
type startTLSProto struct {
	loop.BaseProtocol
	cfg   *tls.Config
	state chan tls.ConnectionState
}

func (p *startTLSProto) OnData(c *conn.Conn) {
	for {
		b, _ := c.Peek(0)
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		line, _ := c.Next(i + 1)
		if string(line) == "STARTTLS\n" {
			c.Write([]byte("OK\n"))
			if err := c.StartTLS(p.cfg); err != nil {
				c.Close()
			}
			return // what follows is ciphertext, for the handshake
		}
		if st, ok := c.TLSState(); ok {
			select {
			case p.state <- st:
			default:
			}
		}
		c.Write(line)
	}
	if c.PeerClosed() {
		c.Close()
	}
}

// TestTLSStartTLS upgrades a connection after a plaintext exchange; the
// client's ClientHello is sent right behind the command, so it is already
// buffered when StartTLS runs. ALPN and SNI reach the protocol.
func TestTLSStartTLS(t *testing.T) {
	cert := testCert(t)
	srvCfg := cert.ServerConfig()
	srvCfg.NextProtos = []string{"reactor/1"}
	p := &startTLSProto{cfg: srvCfg, state: make(chan tls.ConnectionState, 1)}
	_, addr := serve(t, p)
	raw := dial(t, addr)
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(raw)
	io.WriteString(raw, "plain\n")
	if l, _ := br.ReadString('\n'); l != "plain\n" {
		t.Fatalf("plaintext echo %q", l)
	}
	cfg := cert.ClientConfig()
	cfg.ServerName = "localhost"
	cfg.NextProtos = []string{"reactor/1"}
	// The command and the handshake's first flight leave together.
	tc := tls.Client(&prefixConn{Conn: raw, prefix: []byte("STARTTLS\n"), r: br}, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := echoCheckNoClose(tc, []byte("secret line\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-p.state:
		if st.NegotiatedProtocol != "reactor/1" || st.ServerName != "localhost" || st.Version < tls.VersionTLS12 {
			t.Fatalf("state: ALPN %q, SNI %q, version %x", st.NegotiatedProtocol, st.ServerName, st.Version)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no TLS state seen by the protocol")
	}
}

// prefixConn sends prefix in front of the first write and reads through r,
// which has already consumed the "OK\n" answer's line.
type prefixConn struct {
	net.Conn
	prefix []byte
	r      *bufio.Reader
	sawOK  bool
}

func (c *prefixConn) Write(b []byte) (int, error) {
	if c.prefix != nil {
		all := append(c.prefix, b...)
		c.prefix = nil
		_, err := c.Conn.Write(all)
		return len(b), err
	}
	return c.Conn.Write(b)
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if !c.sawOK {
		l, err := c.r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if l != "OK\n" {
			return 0, errors.New("STARTTLS answered " + l)
		}
		c.sawOK = true
	}
	return c.r.Read(b)
}

// TestTLSHalfClose: the client's close_notify is the peer's FIN for the
// protocol; the server's Close sends close_notify, so the client reads a
// clean EOF.
func TestTLSHalfClose(t *testing.T) {
	cert := testCert(t)
	p := newRecorder()
	p.onData = func(c *conn.Conn) {
		if c.PeerClosed() {
			b, _ := c.Next(0)
			c.Write(bytes.ToUpper(b))
			c.Close()
		}
	}
	_, addr := serve(t, p, loop.WithTLS(cert.ServerConfig()))
	c := tlsDial(t, addr, cert.ClientConfig())
	c.Write([]byte("set prez obama"))
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "SET PREZ OBAMA" {
		t.Fatalf("read %q, %v", got, err)
	}
	if ev := p.waitClose(t, 5*time.Second); ev.err != nil {
		t.Fatalf("OnClose(%v)", ev.err)
	}
}

// TestTLSStartTLSServerRoleOnDial: a dialed connection takes the TLS server
// role (as an FTP server's active data connection does under RFC 4217), and
// Done reports the end of the handshake.
func TestTLSStartTLSServerRoleOnDial(t *testing.T) {
	cert := testCert(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peer <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		cfg := cert.ClientConfig()
		cfg.ServerName = "localhost"
		tc := tls.Client(c, cfg) // the accepting side is the TLS client here
		if _, err := tc.Write([]byte("ping")); err != nil {
			peer <- err
			return
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(tc, buf); err != nil || string(buf) != "PING" {
			peer <- fmt.Errorf("read %q: %v", buf, err)
			return
		}
		peer <- nil
	}()
	done := make(chan error, 1)
	p := newRecorder()
	p.onOpen = func(c *conn.Conn) {
		err := c.StartTLSWith(cert.ServerConfig(), conn.Upgrade{
			Role:    conn.RoleServer,
			Timeout: 5 * time.Second,
			Done:    func(c *conn.Conn, err error) { done <- err },
		})
		if err != nil {
			done <- err
		}
	}
	p.onData = func(c *conn.Conn) {
		if c.InboundLen() >= 4 {
			b, _ := c.Next(4)
			c.Write(bytes.ToUpper(b))
		}
	}
	s := newServer(t)
	if _, err := s.Dial(context.Background(), "tcp", ln.Addr().String(), p); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if err := <-peer; err != nil {
		t.Fatal(err)
	}
}

// startOpenSSL starts openssl with args, its standard output and error going
// to out, and returns its standard input; the test's cleanup kills it.
func startOpenSSL(t *testing.T, out io.Writer, args ...string) io.Writer {
	t.Helper()
	cmd := exec.Command(testtool.Path(t, "openssl", "openssl"), args...)
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return stdin
}

// TestTLSRenegotiationRefused: neither side of a connection renegotiates. A
// renegotiation would run a handshake inside a read on the loop, where a
// would-block is a sticky handshake error, so it is refused: the peer that
// asks gets an alert and its connection closes with an error; the server
// keeps serving. openssl drives the other side (its "R" and "r" commands
// renegotiate; TLS 1.2, since TLS 1.3 has no renegotiation).
func TestTLSRenegotiationRefused(t *testing.T) {
	cert := testCert(t)
	t.Run("client asks the server", func(t *testing.T) {
		p := newRecorder()
		p.onData = echoProto{}.OnData
		var logs testtool.SyncBuffer
		_, addr := serve(t, p, loop.WithTLS(cert.ServerConfig()), loop.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		var out testtool.SyncBuffer
		stdin := startOpenSSL(t, &out, "s_client", "-tls1_2", "-connect", addr, "-servername", "localhost")
		io.WriteString(stdin, "ping-7531\n")
		waitFor(t, 10*time.Second, "the echo through s_client", func() bool { return strings.Contains(out.String(), "ping-7531") })
		io.WriteString(stdin, "R\n") // on a line of its own: renegotiate
		ev := p.waitClose(t, 5*time.Second)
		if ev.err == nil || !strings.Contains(ev.err.Error(), "unexpected handshake message") {
			t.Fatalf("OnClose(%v), want the refusal of the ClientHello; s_client said:\n%s", ev.err, out.String())
		}
		waitFor(t, 5*time.Second, "the log line", func() bool {
			return strings.Contains(logs.String(), "TLS failed after the handshake")
		})
		if err := echoCheckNoClose(tlsDial(t, addr, cert.ClientConfig()), []byte("next client")); err != nil {
			t.Fatalf("another client after the refusal: %v", err)
		}
	})
	t.Run("server asks the client", func(t *testing.T) {
		dir := t.TempDir()
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(certFile, cert.CertPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, cert.KeyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		var out testtool.SyncBuffer
		stdin := startOpenSSL(t, &out, "s_server", "-tls1_2", "-accept", "127.0.0.1:0", "-naccept", "1",
			"-cert", certFile, "-key", keyFile)
		var addr string
		waitFor(t, 10*time.Second, "s_server to listen", func() bool {
			_, rest, ok := strings.Cut(out.String(), "ACCEPT ")
			addr, _, _ = strings.Cut(rest, "\n")
			return ok && strings.Contains(rest, "\n")
		})
		// The user's config would renegotiate; the dial must not.
		cfg := cert.ClientConfig()
		cfg.Renegotiation = tls.RenegotiateFreelyAsClient
		p := newRecorder()
		p.onOpen = func(c *conn.Conn) { c.Write([]byte("ping-2468\n")) }
		s := newServer(t)
		if _, err := s.Dial(context.Background(), "tcp", addr, p, loop.WithTLS(cfg), loop.WithHandshakeTimeout(5*time.Second)); err != nil {
			t.Fatalf("Dial: %v", err)
		}
		waitFor(t, 10*time.Second, "s_server to receive", func() bool { return strings.Contains(out.String(), "ping-2468") })
		io.WriteString(stdin, "r\n") // send a HelloRequest
		ev := p.waitClose(t, 5*time.Second)
		if ev.err == nil || !strings.Contains(ev.err.Error(), "no renegotiation") {
			t.Fatalf("OnClose(%v), want the refusal (no_renegotiation); s_server said:\n%s", ev.err, out.String())
		}
		if cfg.Renegotiation != tls.RenegotiateFreelyAsClient {
			t.Error("Dial changed the caller's tls.Config")
		}
	})
}
