package tlsflags

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reactorkit/reactor/tlscert"
)

func TestConfig(t *testing.T) {
	cert, _ := tlscert.SelfSigned([]string{"localhost"}, time.Hour)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, cert.CertPEM, 0o600)
	os.WriteFile(keyFile, cert.KeyPEM, 0o600)
	tests := []struct {
		name    string
		f       Flags
		wantCfg bool
		wantCA  bool
		wantErr bool
	}{
		{name: "none", f: Flags{}},
		{name: "files", f: Flags{CertFile: certFile, KeyFile: keyFile}, wantCfg: true},
		{name: "self-signed", f: Flags{SelfSigned: true}, wantCfg: true, wantCA: true},
		{name: "both", f: Flags{SelfSigned: true, CertFile: certFile}, wantErr: true},
		{name: "missing key", f: Flags{CertFile: certFile, KeyFile: filepath.Join(dir, "nope")}, wantErr: true},
		{name: "cert without key", f: Flags{CertFile: certFile}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ca, err := tt.f.Config()
			if (err != nil) != tt.wantErr || (cfg != nil) != tt.wantCfg || (ca != "") != tt.wantCA {
				t.Fatalf("cfg=%v ca=%q err=%v", cfg != nil, ca, err)
			}
			if cfg != nil && len(Fingerprint(cfg)) != 32*3-1 {
				t.Errorf("fingerprint %q", Fingerprint(cfg))
			}
			if ca != "" {
				defer func() {
					if err := RemoveCA(ca); err != nil {
						t.Error(err)
					}
					if _, err := os.Stat(filepath.Dir(ca)); !os.IsNotExist(err) {
						t.Errorf("RemoveCA left %s", filepath.Dir(ca))
					}
				}()
				b, _ := os.ReadFile(ca)
				blk, _ := pem.Decode(b)
				c, err := x509.ParseCertificate(blk.Bytes)
				if err != nil || c.VerifyHostname("127.0.0.1") != nil {
					t.Fatalf("CA file: %v", err)
				}
			}
		})
	}
}
