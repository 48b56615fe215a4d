package ftp_test

import (
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

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
