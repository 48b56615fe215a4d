// Package tlscert makes self-signed TLS certificates in memory (ECDSA P-256,
// crypto/x509), as the seed's SSL section does with OpenSSL: enough for
// tests, examples and private deployments whose clients are told to trust
// the certificate.
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Cert is a self-signed certificate with its key, in the forms servers and
// clients need.
type Cert struct {
	TLS     tls.Certificate // for tls.Config.Certificates
	CertPEM []byte          // the certificate, for clients to trust (curl --cacert)
	KeyPEM  []byte          // the private key
	Pool    *x509.CertPool  // a pool holding only this certificate, for tls.Config.RootCAs
}

// SelfSigned makes a certificate valid from a minute ago for validFor, for
// the given host names and IP addresses (the first is also the subject's
// common name). It is its own CA, so clients can trust it directly.
func SelfSigned(hosts []string, validFor time.Duration) (*Cert, error) {
	return SelfSignedFrom(hosts, time.Now().Add(-time.Minute), validFor)
}

// SelfSignedFrom is SelfSigned with an explicit start of validity, which
// makes expired (or not yet valid) certificates for tests.
func SelfSignedFrom(hosts []string, notBefore time.Time, validFor time.Duration) (*Cert, error) {
	if len(hosts) == 0 {
		return nil, fmt.Errorf("tlscert: no host names")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlscert: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tlscert: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"reactor self-signed"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("tlscert: certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tlscert: key: %w", err)
	}
	c := &Cert{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Pool:    x509.NewCertPool(),
	}
	if c.TLS, err = tls.X509KeyPair(c.CertPEM, c.KeyPEM); err != nil {
		return nil, fmt.Errorf("tlscert: key pair: %w", err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlscert: parse: %w", err)
	}
	c.Pool.AddCert(parsed)
	return c, nil
}

// ServerConfig returns a tls.Config serving this certificate.
func (c *Cert) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.TLS}, MinVersion: tls.VersionTLS12}
}

// ClientConfig returns a tls.Config that trusts only this certificate.
func (c *Cert) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: c.Pool, MinVersion: tls.VersionTLS12}
}
