package ftp_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestUploadOpenFails: an upload whose file the system cannot create or
// open gets vsftpd's 553 before any data connection is used; a name that
// leads outside the root stays refused with 550; the session goes on.
func TestUploadOpenFails(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverConfig{})
	if err := os.Mkdir(filepath.Join(ts.root, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(ts.root, "out")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cmd string
		code      int
	}{
		{"STOR into a missing folder", "STOR nodir/f", 553},
		{"APPE into a missing folder", "APPE nodir/f", 553},
		{"STOU into a missing folder", "STOU nodir/f", 553},
		{"STOR onto a folder", "STOR adir", 553},
		{"APPE onto a folder", "APPE adir", 553},
		{"STOR onto the root", "STOR /", 553},
		{"STOR through a symlink out of the root", "STOR out/f", 550},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := userClient(t, ts)
			c.epsv()
			want := "Could not create file"
			if tc.code == 550 {
				want = ""
			}
			c.steps(step{tc.cmd, tc.code, want}, step{"NOOP", 200, ""})
		})
	}
	if _, err := os.Stat(filepath.Join(ts.root, "nodir")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("nodir: %v", err)
	}
}
