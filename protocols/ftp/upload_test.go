package ftp_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// TestUploadWriteFails: an upload whose writes fail (here to a device
// node like /dev/full, which answers every write with ENOSPC) ends with
// 451, and the session goes on. Making the node takes CAP_MKNOD.
func TestUploadWriteFails(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverConfig{})
	err := unix.Mknod(filepath.Join(ts.root, "full"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 7)))
	if err != nil {
		t.Skipf("cannot make a /dev/full node (needs CAP_MKNOD): %v", err)
	}
	c := userClient(t, ts)
	d := c.epsv()
	c.expect1("STOR full")
	d.SetWriteDeadline(time.Now().Add(opTimeout))
	d.Write(make([]byte, 1<<20)) // may fail: the server resets the connection once a write failed
	d.Close()
	c.expectReply(451)
	c.steps(step{"NOOP", 200, ""})
}
