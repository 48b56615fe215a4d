package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/reactorkit/reactor/tlscert"
)

// tlsFiles is the certificate the TLS servers serve: self-signed for
// 127.0.0.1 (ECDSA P-256, tlscert), written as PEM files for their
// -tls-cert and -tls-key, and the generator's client configuration, which
// trusts only it.
type tlsFiles struct {
	dir               string // removed by cleanup
	certFile, keyFile string
	// client verifies the certificate and keeps no session cache, so every
	// connection makes a full handshake.
	client *tls.Config
}

func newTLSFiles() (*tlsFiles, error) {
	cert, err := tlscert.SelfSigned([]string{"127.0.0.1"}, 24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("tls certificate: %w", err)
	}
	dir, err := os.MkdirTemp("", "reactor-bench-tls-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	t := &tlsFiles{dir: dir, certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(t.certFile, cert.CertPEM, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("tls certificate: %w", err)
	}
	if err := os.WriteFile(t.keyFile, cert.KeyPEM, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("tls certificate: %w", err)
	}
	t.client = cert.ClientConfig()
	// Named here, the dial need not copy the configuration to name it.
	t.client.ServerName = "127.0.0.1"
	return t, nil
}

func (t *tlsFiles) cleanup() error { return os.RemoveAll(t.dir) }
