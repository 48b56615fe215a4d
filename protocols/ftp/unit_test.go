package ftp

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"
	"time"
)

func TestStripTelnet(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ABOR", "ABOR"},
		{"\xff\xf4\xff\xf2ABOR", "ABOR"},            // IAC IP, IAC DM (the synch before ABOR)
		{"\xff\xfb\x01NOOP", "NOOP"},                // IAC WILL ECHO
		{"\xff\xfd\x03\xff\xfe\x05STAT", "STAT"},    // IAC DO, IAC DONT
		{"RETR a\xff\xffb", "RETR a\xffb"},          // IAC IAC is a 255 byte
		{"\xff\xfa\x18\x01xyz\xff\xf0QUIT", "QUIT"}, // subnegotiation
		{"NOOP\xff", "NOOP"},                        // lone IAC at the end
		{"\xf2ABOR", "\xf2ABOR"},                    // DM without IAC is data
	} {
		if got := string(stripTelnet(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("stripTelnet(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestASCIIConversion checks both directions with the input split at every
// byte, since a CR LF may straddle two chunks (pyftpdlib's
// test_stor_ascii_2 case).
func TestASCIIConversion(t *testing.T) {
	for _, tc := range []struct{ lf, crlf string }{
		{"a\nb\n", "a\r\nb\r\n"},
		{"\n foo \n bar", "\r\n foo \r\n bar"},
		{"lone\rcr\n", "lone\rcr\r\n"},
		{"", ""},
		{"\n\n", "\r\n\r\n"},
	} {
		for cut := 0; cut <= len(tc.crlf); cut++ {
			out, p := fromCRLF(nil, []byte(tc.crlf[:cut]), false)
			out, p = fromCRLF(out, []byte(tc.crlf[cut:]), p)
			if p {
				out = append(out, '\r')
			}
			if string(out) != tc.lf {
				t.Errorf("fromCRLF(%q cut at %d) = %q, want %q", tc.crlf, cut, out, tc.lf)
			}
		}
		for cut := 0; cut <= len(tc.lf); cut++ {
			out, p := toCRLF(nil, []byte(tc.lf[:cut]), false)
			out, _ = toCRLF(out, []byte(tc.lf[cut:]), p)
			if string(out) != tc.crlf {
				t.Errorf("toCRLF(%q cut at %d) = %q, want %q", tc.lf, cut, out, tc.crlf)
			}
		}
	}
	// Text that already ends lines in CR LF goes out unchanged
	// (pyftpdlib's test_retr_ascii_already_crlf).
	if out, _ := toCRLF(nil, []byte("x\r\ny\r\n"), false); string(out) != "x\r\ny\r\n" {
		t.Errorf("toCRLF of CR LF text = %q", out)
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		cwd, arg string
		clamp    bool
		want     string
		ok       bool
	}{
		{"/", "a", false, "/a", true},
		{"/a", "b/c", false, "/a/b/c", true},
		{"/a/b", "..", false, "/a", true},
		{"/a", "/x/./y//z/", false, "/x/y/z", true},
		{"/", "..", false, "", false},
		{"/a", "../../etc/passwd", false, "", false},
		{"/a", "/../etc", false, "", false},
		{"/a", "../..", true, "/", true},
		{"/", "a/../../b", true, "/b", true},
		{"/", "a\x00b", false, "", false},
		{"/", "name with spaces", false, "/name with spaces", true},
		{"/", "ünïcødé/ファイル", false, "/ünïcødé/ファイル", true},
	} {
		got, ok := resolve(tc.cwd, tc.arg, tc.clamp)
		if got != tc.want || ok != tc.ok {
			t.Errorf("resolve(%q, %q, %v) = %q, %v; want %q, %v", tc.cwd, tc.arg, tc.clamp, got, ok, tc.want, tc.ok)
		}
	}
	if rel("/") != "." || rel("/a/b") != "a/b" || base("/a/b") != "b" || dir("/a/b") != "/a" || dir("/a") != "/" {
		t.Error("rel, base or dir broken")
	}
	if q := quote("/a\"b\r\nc"); q != `/a""b??c` {
		t.Errorf("quote = %q", q)
	}
}

// fakeInfo is a fs.FileInfo without a Stat_t.
type fakeInfo struct {
	name string
	size int64
	mode fs.FileMode
	mt   time.Time
}

func (f fakeInfo) Name() string       { return f.name }
func (f fakeInfo) Size() int64        { return f.size }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return f.mt }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return nil }

// TestLsLine checks the vsftpd column layout and the six-month rule.
func TestLsLine(t *testing.T) {
	now := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		fi     fakeInfo
		target string
		want   string
	}{
		{fakeInfo{"a.txt", 1234, 0o644, now.Add(-time.Hour)}, "",
			"-rw-r--r--    1 0        0            1234 Jul 01 11:00 a.txt\r\n"},
		{fakeInfo{"old", 4096, fs.ModeDir | 0o755, time.Date(2023, 1, 5, 8, 0, 0, 0, time.UTC)}, "",
			"drwxr-xr-x    1 0        0            4096 Jan 05  2023 old\r\n"},
		{fakeInfo{"future", 1, 0o600, now.Add(48 * time.Hour)}, "",
			"-rw-------    1 0        0               1 Jul 03  2024 future\r\n"},
		{fakeInfo{"link", 3, fs.ModeSymlink | 0o777, now.Add(-time.Minute)}, "a.txt",
			"lrwxrwxrwx    1 0        0               3 Jul 01 11:59 link -> a.txt\r\n"},
		{fakeInfo{"suid", 9, fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o755, now}, "",
			"-rwsr-sr-t    1 0        0               9 Jul 01 12:00 suid\r\n"},
		{fakeInfo{"name with spaces", 0, 0o644, now}, "",
			"-rw-r--r--    1 0        0               0 Jul 01 12:00 name with spaces\r\n"},
	} {
		if got := string(appendLsLine(nil, tc.fi.name, tc.fi, tc.target, now)); got != tc.want {
			t.Errorf("ls line\n got %q\nwant %q", got, tc.want)
		}
	}
}

func TestFacts(t *testing.T) {
	if got := defaultFacts.feat(); !strings.HasPrefix(got, "type*;perm*;size*;modify*;unique*;unix.mode;") {
		t.Errorf("feat = %q", got)
	}
	if got := parseFacts("TypE;fish;size;").String(); got != "type;size;" {
		t.Errorf("parseFacts = %q", got)
	}
	fi := fakeInfo{"f", 5, 0o640, time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)}
	got := string(appendFacts(nil, factType|factPerm|factSize|factModify|factUnixMode, fi, "file", false))
	if want := "type=file;perm=r;size=5;modify=20200203040506;unix.mode=0640; "; got != want {
		t.Errorf("facts = %q, want %q", got, want)
	}
	if got := string(appendFacts(nil, 0, fi, "file", false)); got != " " {
		t.Errorf("no facts = %q", got)
	}
	if !bytes.Contains(appendFacts(nil, factPerm, fakeInfo{mode: fs.ModeDir}, "dir", true), []byte("perm=cdeflmp;")) {
		t.Error("writable dir perm")
	}
}
