package cloudhash_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reactorkit/reactor/protocols/cloudhash"
	"github.com/reactorkit/reactor/tlscert"
)

// startTLSServer runs CloudHash with its RESP listener on TLS and returns it
// with the CA file clients must trust.
func startTLSServer(t *testing.T) (*cloudhash.Server, *tlscert.Cert, string) {
	t.Helper()
	cert, err := tlscert.SelfSigned([]string{"localhost", "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, cert.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return startServer(t, cloudhash.WithRESPTLS(cert.ServerConfig())), cert, ca
}

// TestTLSRedisCLI: redis-cli --tls --cacert runs commands against the TLS
// RESP port.
func TestTLSRedisCLI(t *testing.T) {
	cli := tool(t, "redis-cli", "redis-tools")
	s, _, ca := startTLSServer(t)
	p := port(s.RESPAddr())
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"SET", "prez", "obama"}, "OK"},
		{[]string{"GET", "prez"}, "obama"},
		{[]string{"INCR", "n"}, "1"},
		{[]string{"DBSIZE"}, "2"},
	}
	for _, tt := range tests {
		out := redisCLI(t, cli, p, append([]string{"--tls", "--cacert", ca}, tt.args...)...)
		if strings.TrimSpace(out) != tt.want {
			t.Fatalf("redis-cli --tls %v = %q, want %q", tt.args, out, tt.want)
		}
	}
}

// TestTLSGoRedis: go-redis with a TLS config that trusts the certificate.
func TestTLSGoRedis(t *testing.T) {
	s, cert, _ := startTLSServer(t)
	cfg := cert.ClientConfig()
	cfg.ServerName = "localhost"
	rdb := redis.NewClient(&redis.Options{Addr: s.RESPAddr().String(), TLSConfig: cfg})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET = %q, %v", v, err)
	}
	pipe := rdb.Pipeline()
	for i := range 100 {
		pipe.Incr(ctx, "counter")
		_ = i
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Get(ctx, "counter").Int(); n != 100 {
		t.Fatalf("counter = %d", n)
	}
}

// TestTLSPlaintextRESPClient: a plaintext client on the TLS port is closed;
// TLS clients are still served.
func TestTLSPlaintextRESPClient(t *testing.T) {
	s, cert, _ := startTLSServer(t)
	c, err := net.Dial("tcp", s.RESPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "*1\r\n$4\r\nPING\r\n")
	if got, _ := io.ReadAll(c); strings.Contains(string(got), "PONG") {
		t.Fatalf("plaintext client answered %q", got)
	}
	cfg := cert.ClientConfig()
	cfg.ServerName = "localhost"
	tc, err := tls.Dial("tcp", s.RESPAddr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(tc, "*1\r\n$4\r\nPING\r\n")
	buf := make([]byte, 7)
	if _, err := io.ReadFull(tc, buf); err != nil || string(buf) != "+PONG\r\n" {
		t.Fatalf("TLS PING: %q, %v", buf, err)
	}
}
