// Package tlsflags turns the examples' TLS flags into a tls.Config:
// -tls-cert and -tls-key name PEM files, -tls-self-signed makes a
// certificate in memory and writes its PEM where clients can be told to
// trust it (curl --cacert, redis-cli --cacert).
package tlsflags

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/reactorkit/reactor/tlscert"
)

// Flags holds the flag values.
type Flags struct {
	CertFile, KeyFile string // -tls-cert, -tls-key
	SelfSigned        bool   // -tls-self-signed
}

// Config returns the server tls.Config the flags ask for, nil when they ask
// for none. For a self-signed certificate it also returns the path of the
// PEM file written for clients to trust (in the system's temporary folder).
func (f Flags) Config(hosts ...string) (cfg *tls.Config, caFile string, err error) {
	switch {
	case f.SelfSigned && (f.CertFile != "" || f.KeyFile != ""):
		return nil, "", errors.New("-tls-self-signed and -tls-cert/-tls-key exclude each other")
	case f.SelfSigned:
		cert, err := tlscert.SelfSigned(append(hosts, "localhost", "127.0.0.1", "::1"), 365*24*time.Hour)
		if err != nil {
			return nil, "", err
		}
		dir, err := os.MkdirTemp("", "reactor-tls-")
		if err != nil {
			return nil, "", err
		}
		caFile = filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(caFile, cert.CertPEM, 0o644); err != nil {
			return nil, "", err
		}
		return cert.ServerConfig(), caFile, nil
	case f.CertFile != "" || f.KeyFile != "":
		pair, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, "", nil
	}
	return nil, "", nil
}
