package tlscert

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"
)

// TestTLSCertHandshake checks a self-signed certificate verifies for its
// names, and fails verification for another name and once expired.
func TestTLSCertHandshake(t *testing.T) {
	good, err := SelfSigned([]string{"localhost", "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := SelfSignedFrom([]string{"localhost"}, time.Now().Add(-2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		cert       *Cert
		serverName string
		wantErr    any // nil, or a pointer to the error type expected
	}{
		{name: "by name", cert: good, serverName: "localhost"},
		{name: "by IP", cert: good, serverName: "127.0.0.1"},
		{name: "wrong name", cert: good, serverName: "example.com", wantErr: new(x509.HostnameError)},
		{name: "expired", cert: expired, serverName: "localhost", wantErr: new(x509.CertificateInvalidError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				a, err := ln.Accept()
				if err != nil {
					return
				}
				defer a.Close()
				a.SetDeadline(time.Now().Add(5 * time.Second))
				tls.Server(a, tt.cert.ServerConfig()).Handshake()
			}()
			defer func() { <-done }()
			b, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			b.SetDeadline(time.Now().Add(5 * time.Second))
			cfg := tt.cert.ClientConfig()
			cfg.ServerName = tt.serverName
			err = tls.Client(b, cfg).Handshake()
			switch want := tt.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatal(err)
				}
			case *x509.HostnameError:
				if !errors.As(err, want) {
					t.Fatalf("err %v, want a HostnameError", err)
				}
			case *x509.CertificateInvalidError:
				if !errors.As(err, want) || want.Reason != x509.Expired {
					t.Fatalf("err %v, want an expired certificate", err)
				}
			}
		})
	}
}
