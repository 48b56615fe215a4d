package ftp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reactorkit/reactor/internal/testtool"
)

// clientTimeout bounds each run of an outside client.
const clientTimeout = 2 * time.Minute

// runTool runs a program and returns its combined output, failing the test
// on a non-zero exit.
func runTool(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// treeSums maps each file below dir (by slash path) to its SHA-256.
func treeSums(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(dir, p)
		sums[filepath.ToSlash(r)] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

func sameTree(t *testing.T, a, b string) {
	t.Helper()
	sa, sb := treeSums(t, a), treeSums(t, b)
	if len(sa) != len(sb) {
		t.Fatalf("%d files in %s, %d in %s", len(sa), a, len(sb), b)
	}
	for p, s := range sa {
		if sb[p] != s {
			t.Fatalf("%s differs", p)
		}
	}
}

// makeTree fills dir with nested folders, a file of several MiB, names
// with spaces and UTF-8.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	files := map[string][]byte{
		"big.bin":                         testtool.Pattern(5<<20+123, 11),
		"a/b/c/deep.txt":                  []byte("deep\n"),
		"a/with space.txt":                []byte("spaces\n"),
		"a/b/ünïcødé ファイル.txt":            []byte("utf-8\n"),
		"empty.txt":                       nil,
		"docs/readme.md":                  bytes.Repeat([]byte("line\n"), 1000),
		"docs/nested/more/and more/x.bin": testtool.Pattern(70000, 12),
	}
	for p, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCurl(t *testing.T) {
	curl := testtool.Path(t, "curl", "curl")
	t.Parallel()
	ts := startServer(t, serverConfig{})
	big := testtool.Pattern(3<<20+5, 13)
	ts.write(t, "big.bin", big)
	ts.write(t, "text.txt", []byte("a\nb\n"))
	base := "ftp://" + ts.addr + "/"
	auth := "ftp://" + testUser + ":" + testPass + "@" + ts.addr + "/"
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	check := func(want []byte) {
		t.Helper()
		got, err := os.ReadFile(out)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("downloaded %d bytes, want %d (%v)", len(got), len(want), err)
		}
	}
	for _, mode := range [][]string{nil, {"--disable-epsv"}, {"-P", "-"}, {"-P", "127.0.0.1", "--disable-eprt"}} {
		os.Remove(out)
		runTool(t, tmp, curl, append([]string{"-sS", "--fail", "-o", out, base + "big.bin"}, mode...)...)
		check(big)
	}
	// Resume a download.
	os.WriteFile(out, big[:1<<20], 0o644)
	runTool(t, tmp, curl, "-sS", "--fail", "-C", "-", "-o", out, base+"big.bin")
	check(big)
	// ASCII.
	// ASCII: the server sends CR LF (the raw-client tests check the bytes);
	// curl turns it back into LF.
	v := runTool(t, tmp, curl, "-sS", "-v", "--fail", "-B", "-o", out, base+"text.txt")
	if !strings.Contains(v, "TYPE A") {
		t.Fatalf("no TYPE A in %s", v)
	}
	check([]byte("a\nb\n"))
	// Upload, then resume an upload with APPE.
	src := filepath.Join(tmp, "src")
	os.WriteFile(src, big, 0o644)
	runTool(t, tmp, curl, "-sS", "--fail", "-T", src, auth+"up.bin")
	if !bytes.Equal(ts.read(t, "up.bin"), big) {
		t.Fatal("upload differs")
	}
	ts.write(t, "part.bin", big[:777777])
	runTool(t, tmp, curl, "-sS", "--fail", "-C", "-", "-T", src, auth+"part.bin")
	if !bytes.Equal(ts.read(t, "part.bin"), big) {
		t.Fatal("resumed upload differs")
	}
	runTool(t, tmp, curl, "-sS", "--fail", "--append", "-T", src, auth+"app.bin")
	runTool(t, tmp, curl, "-sS", "--fail", "--append", "-T", src, auth+"app.bin")
	if !bytes.Equal(ts.read(t, "app.bin"), append(bytes.Clone(big), big...)) {
		t.Fatal("append differs")
	}
	// -I: SIZE and MDTM.
	head := runTool(t, tmp, curl, "-sS", "--fail", "-I", base+"big.bin")
	if !strings.Contains(head, "Content-Length: 3145733") || !strings.Contains(head, "Last-Modified:") {
		t.Fatalf("curl -I: %q", head)
	}
	// -Q: commands before and after (-) the transfer.
	runTool(t, tmp, curl, "-sS", "--fail", "-Q", "MKD made", "-Q", "-RNFR up.bin", "-Q", "-RNTO made/moved.bin", "-o", out, auth+"big.bin")
	if _, err := os.Stat(filepath.Join(ts.root, "made", "moved.bin")); err != nil {
		t.Fatal(err)
	}
	// A listing and a refused upload.
	list := runTool(t, tmp, curl, "-sS", "--fail", base)
	if !strings.Contains(list, " big.bin\n") {
		t.Fatalf("listing %q", list)
	}
	cmd := exec.Command(curl, "-sS", "--fail", "-T", src, base+"anon.bin")
	if err := cmd.Run(); err == nil {
		t.Fatal("anonymous upload succeeded")
	}
}

func TestLftpMirror(t *testing.T) {
	lftp := testtool.Path(t, "lftp", "lftp")
	t.Parallel()
	ts := startServer(t, serverConfig{})
	makeTree(t, ts.root)
	_, port, _ := net.SplitHostPort(ts.addr)
	local := t.TempDir()
	script := func(cmds string) string {
		return "set net:max-retries 2; set net:timeout 20; set net:reconnect-interval-base 1; " +
			"set ftp:ssl-allow no; set cmd:fail-exit yes; " + cmds + "; quit"
	}
	// Download the tree.
	runTool(t, local, lftp, "-u", testUser+","+testPass, "-p", port, "-e", script("mirror / down"), "127.0.0.1")
	sameTree(t, ts.root, filepath.Join(local, "down"))
	// Upload it back elsewhere, in active mode this time.
	runTool(t, local, lftp, "-u", testUser+","+testPass, "-p", port,
		"-e", script("set ftp:passive-mode off; mkdir -p /up; mirror -R down /up/tree"), "127.0.0.1")
	sameTree(t, filepath.Join(local, "down"), filepath.Join(ts.root, "up", "tree"))
}

func TestWgetRecursive(t *testing.T) {
	wget := testtool.Path(t, "wget", "wget")
	t.Parallel()
	ts := startServer(t, serverConfig{})
	makeTree(t, ts.root)
	local := t.TempDir()
	runTool(t, local, wget, "-q", "-r", "-nH", "--no-remove-listing", "-P", "got", "ftp://"+ts.addr+"/")
	got := filepath.Join(local, "got")
	filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == ".listing" {
			os.Remove(p)
		}
		return nil
	})
	sameTree(t, ts.root, got)
}

// pythonSession is a full ftplib session, MLSD, and ABOR during a RETR sent
// as ftplib sends it: "ABOR\r\n" with MSG_OOB, its last byte urgent; the
// transfer is running, so the replies must be 426, then 226 (RFC 959
// §4.1.3; ftplib itself would take a lone 225 or 226).
const pythonSession = `
import ftplib, io, sys, hashlib
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
f = ftplib.FTP()
f.connect(host, port, timeout=20)
f.login(user, pw)
assert f.pwd() == '/'
f.mkd('py dir')
f.cwd('py dir')
data = bytes(range(256)) * 4096
f.storbinary('STOR blob', io.BytesIO(data))
got = io.BytesIO()
f.retrbinary('RETR blob', got.write)
assert got.getvalue() == data
assert f.size('blob') == len(data)
f.storlines('STOR lines.txt', io.BytesIO(b'one\ntwo\n'))
lines = []
f.retrlines('RETR lines.txt', lines.append)
assert lines == ['one', 'two'], lines
facts = dict(f.mlsd())
assert facts['blob']['type'] == 'file' and facts['blob']['size'] == str(len(data)), facts
assert sorted(f.nlst()) == ['blob', 'lines.txt']
f.rename('blob', 'blob2')
f.delete('lines.txt')
f.cwd('/')
entries = dict(f.mlsd(facts=['type', 'size']))
assert entries['py dir']['type'] == 'dir'
assert 'big.bin' in entries
# ABOR during a RETR.
f.voidcmd('TYPE I')
conn = f.transfercmd('RETR big.bin')
conn.recv(65536)
# The transfer is running (32 MiB, barely read): 426 for it, then 226.
resp = f.abort()
assert resp[:3] == '426', resp
resp = f.getresp()
assert resp[:3] == '226', resp
conn.close()
assert f.voidcmd('NOOP')[:3] == '200'
f.quit()
print('python ftplib ok')
`

func TestPythonFtplib(t *testing.T) {
	py := testtool.Path(t, "python3", "python3")
	t.Parallel()
	ts := startServer(t, serverConfig{})
	ts.write(t, "big.bin", testtool.Pattern(32<<20, 14))
	host, port, _ := net.SplitHostPort(ts.addr)
	out := runTool(t, "", py, "-c", pythonSession, host, port, testUser, testPass)
	if !strings.Contains(out, "python ftplib ok") {
		t.Fatal(out)
	}
	if fi, err := os.Stat(filepath.Join(ts.root, "py dir", "blob2")); err != nil || fi.Size() != 1<<20 {
		t.Fatal(fi, err)
	}
}
