package ftp_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jftp "github.com/jlaffaye/ftp"

	"github.com/reactorkit/reactor/internal/testtool"
)

// dialJ logs in with github.com/jlaffaye/ftp.
func dialJ(t *testing.T, addr, user, pass string, opts ...jftp.DialOption) *jftp.ServerConn {
	t.Helper()
	c, err := jftp.Dial(addr, append([]jftp.DialOption{jftp.DialWithTimeout(opTimeout)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Quit() })
	if err := c.Login(user, pass); err != nil {
		t.Fatal(err)
	}
	return c
}

func retr(t *testing.T, c *jftp.ServerConn, path string, off uint64) []byte {
	t.Helper()
	r, err := c.RetrFrom(path, off)
	if err != nil {
		t.Fatalf("RETR %s: %v", path, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("RETR %s: %v", path, err)
	}
	return b
}

// TestJlaffayeEveryCommand drives every command the Go client has, in both
// passive modes and with both listing formats.
func TestJlaffayeEveryCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []jftp.DialOption
	}{
		{"EPSV+MLSD", nil},
		{"PASV+LIST", []jftp.DialOption{jftp.DialWithDisabledEPSV(true), jftp.DialWithDisabledMLSD(true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, serverConfig{})
			big := testtool.Pattern(3<<20+17, 1)
			ts.write(t, "big.bin", big)
			ts.write(t, "dir with spaces/ünïcødé ファイル.txt", []byte("utf-8 name\n"))
			c := dialJ(t, ts.addr, testUser, testPass, tc.opts...)

			if err := c.NoOp(); err != nil {
				t.Fatal(err)
			}
			if got := retr(t, c, "big.bin", 0); !bytes.Equal(got, big) {
				t.Fatalf("RETR: %d bytes, want %d", len(got), len(big))
			}
			if got := retr(t, c, "/big.bin", 1<<20); !bytes.Equal(got, big[1<<20:]) {
				t.Fatal("REST+RETR differs")
			}
			if n, err := c.FileSize("big.bin"); err != nil || n != int64(len(big)) {
				t.Fatalf("SIZE = %d, %v", n, err)
			}
			if err := c.MakeDir("new"); err != nil {
				t.Fatal(err)
			}
			if err := c.ChangeDir("new"); err != nil {
				t.Fatal(err)
			}
			if d, err := c.CurrentDir(); err != nil || d != "/new" {
				t.Fatalf("PWD = %q, %v", d, err)
			}
			up := testtool.Pattern(1<<20+3, 2)
			if err := c.Stor("up.bin", bytes.NewReader(up)); err != nil {
				t.Fatal(err)
			}
			if got := ts.read(t, "new/up.bin"); !bytes.Equal(got, up) {
				t.Fatal("STOR content differs")
			}
			if err := c.Append("up.bin", strings.NewReader("tail")); err != nil {
				t.Fatal(err)
			}
			if got := ts.read(t, "new/up.bin"); !bytes.Equal(got, append(slices.Clone(up), "tail"...)) {
				t.Fatal("APPE content differs")
			}
			// Resume an upload: REST then STOR of the rest.
			if err := c.Stor("part.bin", bytes.NewReader(up[:1000])); err != nil {
				t.Fatal(err)
			}
			if err := c.StorFrom("part.bin", bytes.NewReader(up[1000:]), 1000); err != nil {
				t.Fatal(err)
			}
			if got := ts.read(t, "new/part.bin"); !bytes.Equal(got, up) {
				t.Fatal("REST+STOR content differs")
			}
			mt := time.Date(2017, 9, 21, 1, 34, 10, 0, time.UTC)
			if err := c.SetTime("up.bin", mt); err != nil {
				t.Fatal(err)
			}
			if got, err := c.GetTime("up.bin"); err != nil || !got.Equal(mt) {
				t.Fatalf("MDTM = %v, %v", got, err)
			}
			if err := c.Rename("up.bin", "/new/renamed.bin"); err != nil {
				t.Fatal(err)
			}
			names, err := c.NameList("")
			if err != nil || !slices.Equal(names, []string{"part.bin", "renamed.bin"}) {
				t.Fatalf("NLST = %q, %v", names, err)
			}
			if err := c.ChangeDirToParent(); err != nil {
				t.Fatal(err)
			}
			entries, err := c.List("/")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]*jftp.Entry{}
			for _, e := range entries {
				got[e.Name] = e
			}
			if e := got["big.bin"]; e == nil || e.Type != jftp.EntryTypeFile || e.Size != uint64(len(big)) {
				t.Fatalf("listing: big.bin = %+v", e)
			}
			if e := got["dir with spaces"]; e == nil || e.Type != jftp.EntryTypeFolder {
				t.Fatalf("listing: %+v", entries)
			}
			sub, err := c.NameList("dir with spaces")
			if err != nil || !slices.Equal(sub, []string{"ünïcødé ファイル.txt"}) {
				t.Fatalf("NLST of a UTF-8 folder = %q, %v", sub, err)
			}
			if b := retr(t, c, "dir with spaces/ünïcødé ファイル.txt", 0); string(b) != "utf-8 name\n" {
				t.Fatalf("RETR of a UTF-8 name = %q", b)
			}
			var walked []string
			for w := c.Walk("/new"); w.Next(); {
				walked = append(walked, w.Path())
			}
			if !slices.Contains(walked, "/new/renamed.bin") {
				t.Fatalf("Walk = %q", walked)
			}
			if err := c.Delete("new/part.bin"); err != nil {
				t.Fatal(err)
			}
			if err := c.RemoveDir("new"); err == nil {
				t.Fatal("RMD of a non-empty folder succeeded")
			}
			if err := c.RemoveDirRecur("new"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(ts.root, "new")); !os.IsNotExist(err) {
				t.Fatalf("folder still there: %v", err)
			}
			if tc.opts == nil {
				e, err := c.GetEntry("big.bin")
				if err != nil || e.Type != jftp.EntryTypeFile || e.Size != uint64(len(big)) {
					t.Fatalf("MLST = %+v, %v", e, err)
				}
			}
			if err := c.Logout(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CurrentDir(); err == nil {
				t.Fatal("PWD after REIN succeeded")
			}
			if err := c.Login("anonymous", "a@b"); err != nil {
				t.Fatal(err)
			}
			if err := c.Stor("nope", strings.NewReader("x")); err == nil {
				t.Fatal("anonymous STOR succeeded")
			}
			if err := c.Delete("big.bin"); err == nil {
				t.Fatal("anonymous DELE succeeded")
			}
		})
	}
}
