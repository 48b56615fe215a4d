// Package tlsflags turns the examples' TLS flags into a tls.Config:
// -tls-cert and -tls-key name PEM files, -tls-self-signed makes a
// certificate in memory and writes its PEM where clients can be told to
// trust it (curl --cacert, redis-cli --cacert).
package tlsflags

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/reactorkit/reactor/tlscert"
)

// Flags holds the flag values.
type Flags struct {
	CertFile, KeyFile string // -tls-cert, -tls-key
	SelfSigned        bool   // -tls-self-signed
}

// Config returns the server tls.Config the flags ask for, nil when they ask
// for none. A self-signed certificate is made for hosts plus localhost,
// 127.0.0.1 and ::1, and its PEM is written for clients to trust to the
// returned caFile, in a folder of its own in the system's temporary folder;
// RemoveCA deletes both.
func (f Flags) Config(hosts ...string) (cfg *tls.Config, caFile string, err error) {
	switch {
	case f.SelfSigned && (f.CertFile != "" || f.KeyFile != ""):
		return nil, "", errors.New("-tls-self-signed and -tls-cert/-tls-key exclude each other")
	case (f.CertFile == "") != (f.KeyFile == ""):
		return nil, "", errors.New("-tls-cert and -tls-key go together")
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
			os.RemoveAll(dir)
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

// RemoveCA deletes a caFile written by Config and the folder made for it.
func RemoveCA(caFile string) error {
	return errors.Join(os.Remove(caFile), os.Remove(filepath.Dir(caFile)))
}

// Fingerprint returns the SHA-256 fingerprint of cfg's first certificate,
// as colon-separated hex ("AB:CD:…"), or "" for none.
func Fingerprint(cfg *tls.Config) string {
	if cfg == nil || len(cfg.Certificates) == 0 || len(cfg.Certificates[0].Certificate) == 0 {
		return ""
	}
	sum := sha256.Sum256(cfg.Certificates[0].Certificate[0])
	return strings.ReplaceAll(fmt.Sprintf("% X", sum[:]), " ", ":")
}
