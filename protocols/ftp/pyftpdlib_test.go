package ftp_test

// The behaviours pyftpdlib's functional suite (pyftpdlib/test/
// test_functional.py) checks, class by class, as table-driven Go tests
// against this server. Where this server answers differently on purpose,
// the case says so ("diverges").

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/internal/testtool"
	"github.com/reactorkit/reactor/protocols/ftp"
)

// pyCase is one behaviour of pyftpdlib's suite.
type pyCase struct {
	name string
	cfg  serverConfig
	run  func(t *testing.T, ts *testServer)
}

// runPyCases runs each case on its own server, in parallel.
func runPyCases(t *testing.T, cases []pyCase) {
	t.Parallel()
	for _, pc := range cases {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			pc.run(t, startServer(t, pc.cfg))
		})
	}
}

// step is one command and the reply it must get; contains, when set, must
// appear in the reply text.
type step struct {
	cmd      string
	code     int
	contains string
}

// expect1 sends a transfer command and fails unless it gets 125 or 150.
func (c *client) expect1(line string) string {
	c.t.Helper()
	code, text := c.cmd(line)
	if code != 125 && code != 150 {
		c.t.Fatalf("%s: got %d %s, want 125 or 150", line, code, text)
	}
	return text
}

// expectReply reads a reply, failing unless it has code.
func (c *client) expectReply(code int) string {
	c.t.Helper()
	got, text := c.read()
	if got != code {
		c.t.Fatalf("got %d %s, want %d", got, text, code)
	}
	return text
}

func (c *client) steps(steps ...step) {
	c.t.Helper()
	for _, s := range steps {
		code, text := c.cmd(s.cmd)
		if code != s.code || !strings.Contains(text, s.contains) {
			c.t.Fatalf("%q: got %d %q, want %d with %q", s.cmd, code, text, s.code, s.contains)
		}
	}
}

// userClient is a client logged in as the read-write test user.
func userClient(t *testing.T, ts *testServer) *client {
	c := dialClient(t, ts.addr)
	c.login(testUser, testPass)
	return c
}

// TestPyftpdlibAuthentication: class TestFtpAuthentication (USER, PASS, REIN).
func TestPyftpdlibAuthentication(t *testing.T) {
	big := testtool.Pattern(32<<20, 3)
	// midTransfer starts a RETR of a big file, runs during() once some of it
	// arrived, then reads the rest and checks the 226 and the bytes.
	midTransfer := func(t *testing.T, ts *testServer, during func(c *client)) {
		ts.write(t, "big", big)
		c := userClient(t, ts)
		d := c.epsv()
		c.expect1("RETR big")
		got := make([]byte, 64<<10)
		if _, err := io.ReadFull(d, got); err != nil {
			t.Fatal(err)
		}
		during(c)
		rest, err := io.ReadAll(d)
		if err != nil {
			t.Fatal(err)
		}
		if code, _ := c.read(); code != 226 {
			t.Fatalf("after the transfer: %d", code)
		}
		if !bytes.Equal(append(got, rest...), big) {
			t.Fatal("data differs")
		}
	}
	runPyCases(t, []pyCase{
		{name: "auth_ok", run: func(t *testing.T, ts *testServer) {
			dialClient(t, ts.addr).login(testUser, testPass)
		}},
		{name: "anon_auth", run: func(t *testing.T, ts *testServer) {
			c := dialClient(t, ts.addr)
			c.steps(step{"USER anonymous", 331, ""}, step{"PASS anon@", 230, ""},
				step{"USER anonymous", 331, ""}, step{"PASS", 230, ""},
				step{"USER ftp", 331, ""}, step{"PASS ", 230, ""},
				step{"USER AnoNymouS", 331, ""}, step{"PASS foo", 530, "Login incorrect"})
		}},
		{name: "auth_failed", run: func(t *testing.T, ts *testServer) {
			c := dialClient(t, ts.addr)
			c.steps(step{"USER " + testUser, 331, ""}, step{"PASS wrong", 530, ""},
				step{"USER wrong", 331, ""}, step{"PASS " + testPass, 530, ""})
		}},
		{name: "wrong_cmds_order", run: func(t *testing.T, ts *testServer) {
			c := dialClient(t, ts.addr)
			c.steps(step{"PASS x", 503, "USER first"})
			c.login(testUser, testPass)
			c.steps(step{"PASS x", 503, "Already logged in"})
		}},
		{name: "max_auth", run: func(t *testing.T, ts *testServer) {
			c := dialClient(t, ts.addr)
			for range 3 {
				c.steps(step{"USER " + testUser, 331, ""}, step{"PASS wrong", 530, ""})
			}
			if !c.closed() {
				t.Fatal("still connected after three failed logins")
			}
		}},
		{name: "rein", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.steps(step{"REIN", 220, ""}, step{"PWD", 530, "login"})
			c.login(testUser, testPass)
			c.steps(step{"PWD", 257, `"/"`})
		}},
		{name: "rein_during_transfer", run: func(t *testing.T, ts *testServer) {
			midTransfer(t, ts, func(c *client) {
				c.steps(step{"REIN", 220, ""}, step{"LIST", 530, ""})
			})
		}},
		{name: "user", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.steps(step{"USER " + testUser, 331, ""}, step{"PWD", 530, ""},
				step{"PASS " + testPass, 230, ""}, step{"PWD", 257, ""})
		}},
		{name: "user_during_transfer", run: func(t *testing.T, ts *testServer) {
			midTransfer(t, ts, func(c *client) {
				c.steps(step{"USER " + testUser, 331, ""}, step{"PWD", 530, ""})
			})
		}},
	})
}

// featPlain and featTLS are the whole FEAT reply, as readReply returns it,
// of a server without and with TLS: every feature served, in order.
const (
	featPlain = "Features:\n EPRT\n EPSV\n MDTM\n MFMT\n MLST type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;\n" +
		" REST STREAM\n SIZE\n TVFS\n UTF8\nEnd"
	featTLS = "Features:\n AUTH TLS\n EPRT\n EPSV\n MDTM\n MFMT\n MLST type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;\n" +
		" PBSZ\n PROT\n REST STREAM\n SIZE\n TVFS\n UTF8\nEnd"
)

// TestPyftpdlibDummyCmds: class TestFtpDummyCmds (TYPE, STRU, MODE, NOOP,
// SYST, ALLO, HELP, SITE, REST errors, FEAT, OPTS).
func TestPyftpdlibDummyCmds(t *testing.T) {
	one := func(steps ...step) func(t *testing.T, ts *testServer) {
		return func(t *testing.T, ts *testServer) { userClient(t, ts).steps(steps...) }
	}
	mlstFeat := func(c *client) string {
		text := c.expect("FEAT", 211)
		for _, l := range strings.Split(text, "\n") {
			if f, ok := strings.CutPrefix(l, " MLST "); ok {
				return f
			}
		}
		c.t.Fatalf("FEAT without MLST: %q", text)
		return ""
	}
	runPyCases(t, []pyCase{
		{name: "type", run: one(step{"TYPE a", 200, "ASCII"}, step{"TYPE i", 200, "Binary"},
			step{"TYPE l7", 200, ""}, step{"TYPE l8", 200, "Binary"}, step{"TYPE L 8", 200, "Binary"},
			step{"TYPE ?!?", 504, "Unsupported type"})},
		{name: "stru", run: one(step{"STRU f", 200, ""}, step{"STRU F", 200, ""},
			step{"STRU p", 504, "Unimplemented"}, step{"STRU r", 504, "Unimplemented"}, step{"STRU ?!?", 501, "Unrecognized"})},
		{name: "mode", run: one(step{"MODE s", 200, ""}, step{"MODE S", 200, ""},
			step{"MODE b", 504, "Unimplemented"}, step{"MODE c", 504, "Unimplemented"}, step{"MODE ?!?", 501, "Unrecognized"})},
		{name: "noop", run: one(step{"NOOP", 200, ""})},
		{name: "syst", run: one(step{"SYST", 215, "UNIX Type: L8"})},
		{name: "allo", run: one(step{"ALLO x", 202, ""})},
		{name: "quit", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.steps(step{"QUIT", 221, ""})
			if !c.closed() {
				t.Fatal("open after QUIT")
			}
		}},
		{name: "help", run: one(step{"HELP", 214, "RETR"}, step{"HELP retr", 214, "Syntax: RETR"},
			step{"HELP mlsd", 214, "MLSD"}, step{"HELP ?!?", 501, "Unknown"})},
		{name: "site", run: one(step{"SITE", 501, ""}, step{"SITE ?!?", 500, ""},
			step{"SITE foo bar", 500, ""}, step{"SITEFOO bar", 500, ""})},
		{name: "site_help", run: one(step{"SITE HELP", 214, "CHMOD"}, step{"SITE HELP help", 214, "HELP"},
			step{"SITE HELP ?!?", 501, ""})},
		{name: "rest (diverges: accepted in ASCII mode, as vsftpd)", run: one(step{"REST", 501, ""}, step{"REST str", 501, ""},
			step{"REST -1", 501, ""}, step{"REST 10.1", 501, ""}, step{"REST 10", 350, ""}, step{"TYPE a", 200, ""},
			step{"REST 10", 350, "Restart position accepted"})},
		{name: "feat (the whole reply, before and after login)", run: func(t *testing.T, ts *testServer) {
			c := dialClient(t, ts.addr)
			for _, when := range []string{"before login", "after login"} {
				if got := c.expect("FEAT", 211); got != featPlain {
					t.Fatalf("FEAT %s:\n%s\nwant\n%s", when, got, featPlain)
				}
				c.login(testUser, testPass)
			}
		}},
		{name: "opts_feat", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.steps(step{"OPTS MLST bad_fact", 501, ""}, step{"OPTS MLST type ;", 501, ""},
				step{"OPTS not_mlst", 501, ""}, step{"OPTS UTF8 ON", 200, ""})
			if f := mlstFeat(c); !strings.Contains(f, "type*;perm*;size*;modify*;") {
				t.Fatalf("default facts %q", f)
			}
			for _, tc := range []struct{ cmd, want string }{
				{"OPTS MLST type;", "MLST OPTS type;"},
				{"OPTS mLSt TypE;", "MLST OPTS type;"},
				{"OPTS MLST", "MLST OPTS "},
				{"OPTS MLST fish;cakes;", "MLST OPTS "},
				{"OPTS MLST fish;cakes;type;", "MLST OPTS type;"},
			} {
				if got := c.expect(tc.cmd, 200); got != tc.want {
					t.Fatalf("%s: %q, want %q", tc.cmd, got, tc.want)
				}
			}
			if f := mlstFeat(c); !strings.Contains(f, "type*;perm;size;modify;") {
				t.Fatalf("facts after OPTS %q", f)
			}
		}},
	})
}

// TestPyftpdlibCmdsSemantic: class TestFtpCmdsSemantic (argument and login
// checks common to all commands).
func TestPyftpdlibCmdsSemantic(t *testing.T) {
	// preLoginCmds are the commands served before login: the issue's
	// list, and REIN, ACCT, PBSZ, PROT and CCC (see the package doc);
	// authCmds, one of each other command, get 530 before login.
	preLoginCmds := []string{"USER", "PASS", "QUIT", "SYST", "FEAT", "OPTS", "HELP", "NOOP", "AUTH",
		"REIN", "ACCT", "PBSZ", "PROT", "CCC"}
	authCmds := []string{"ABOR", "APPE a", "CDUP", "CWD", "DELE a", "EPRT a", "EPSV", "LIST", "MDTM a",
		"MFMT a b", "MKD a", "MLSD", "MLST", "MODE S", "NLST", "PASV", "PORT a", "PWD", "REST 1", "RETR a",
		"RMD a", "RNFR a", "RNTO a", "SITE HELP", "SIZE a", "SMNT a", "STAT /", "STAT", "STOR a", "STOU", "STRU F",
		"TYPE I", "XCUP", "XCWD", "XMKD a", "XPWD", "XRMD a", "ALLO 1"}
	argCmds := []string{"ALLO", "APPE", "DELE", "EPRT", "MDTM", "MFMT", "MKD", "MODE", "OPTS", "PORT", "REST",
		"RETR", "RMD", "RNFR", "RNTO", "SITE", "SIZE", "STOR", "STRU", "TYPE", "USER", "XMKD", "XRMD"}
	runPyCases(t, []pyCase{
		{name: "arg_cmds", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			for _, cmd := range argCmds {
				c.steps(step{cmd, 501, "command needs an argument"})
			}
			c.steps(step{"SITE CHMOD", 501, ""})
		}},
		{name: "no_arg_cmds", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			for _, cmd := range []string{"ABOR", "CDUP", "FEAT", "NOOP", "PASV", "PWD", "QUIT", "REIN", "SYST", "XCUP", "XPWD"} {
				c.steps(step{cmd + " arg", 501, "does not accept arguments"})
			}
		}},
		{name: "auth_cmds (diverges: STAT and SITE HELP need login, REIN does not)", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.steps(step{"REIN", 220, ""})
			for _, cmd := range authCmds {
				c.steps(step{cmd, 530, "login"})
			}
			// Every command HELP lists is in one list or the other.
			covered := map[string]bool{}
			for _, cmd := range slices.Concat(authCmds, preLoginCmds) {
				covered[strings.Fields(cmd)[0]] = true
			}
			lines := strings.Split(c.expect("HELP", 214), "\n")
			for _, l := range lines[1 : len(lines)-1] {
				for _, name := range strings.Fields(l) {
					if !covered[name] {
						t.Errorf("%s is neither in authCmds nor in preLoginCmds", name)
					}
				}
			}
		}},
		{name: "no_auth_cmds (diverges: STAT and SITE HELP need login; REIN, ACCT, PBSZ, PROT and CCC do not)", run: func(t *testing.T, ts *testServer) {
			c := dialClient(t, ts.addr)
			// Without TLS configured: AUTH 502; PBSZ, PROT and CCC 503 and
			// 533 (no secure connection yet), not 530.
			c.steps(step{"FEAT", 211, ""}, step{"HELP", 214, ""}, step{"NOOP", 200, ""}, step{"SYST", 215, ""},
				step{"OPTS UTF8 ON", 200, ""}, step{"AUTH TLS", 502, ""}, step{"PBSZ 0", 503, "secure connection"},
				step{"PROT P", 503, "secure connection"}, step{"CCC", 533, "secure connection"},
				step{"ACCT x", 502, "not implemented"}, step{"REIN", 220, ""},
				step{"STAT", 530, "login"}, step{"STAT /", 530, "login"}, step{"SITE HELP", 530, "login"},
				step{"USER " + testUser, 331, ""}, step{"PASS " + testPass, 230, ""}, step{"QUIT", 221, ""})
		}},
	})
}

// TestPyftpdlibFsOperations: class TestFtpFsOperations (PWD, CWD, CDUP,
// SIZE, RNFR, RNTO, DELE, MKD, RMD, MDTM, MFMT, SITE CHMOD).
func TestPyftpdlibFsOperations(t *testing.T) {
	setup := func(t *testing.T, ts *testServer) *client {
		ts.write(t, "tempfile", []byte("x"))
		if err := os.MkdirAll(filepath.Join(ts.root, "tempdir", "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		return userClient(t, ts)
	}
	modeOf := func(t *testing.T, ts *testServer) os.FileMode {
		fi, err := os.Stat(filepath.Join(ts.root, "tempfile"))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	runPyCases(t, []pyCase{
		{name: "cwd", run: func(t *testing.T, ts *testServer) {
			setup(t, ts).steps(step{"CWD tempdir", 250, ""}, step{"PWD", 257, `"/tempdir"`},
				step{"CWD subtempdir", 550, ""}, step{"CWD", 250, ""}, step{"PWD", 257, `"/"`},
				step{"XCWD tempdir", 250, ""}, step{"XPWD", 257, `"/tempdir"`}, step{"CWD tempfile", 550, ""})
		}},
		{name: "cdup", run: func(t *testing.T, ts *testServer) {
			setup(t, ts).steps(step{"CWD tempdir/sub", 250, ""}, step{"PWD", 257, `"/tempdir/sub"`},
				step{"CDUP", 250, ""}, step{"PWD", 257, `"/tempdir"`}, step{"XCUP", 250, ""}, step{"PWD", 257, `"/"`},
				step{"CDUP", 250, ""}, step{"PWD", 257, `"/"`}, step{"CWD ../../..", 250, ""}, step{"PWD", 257, `"/"`})
		}},
		{name: "mkd", run: func(t *testing.T, ts *testServer) {
			setup(t, ts).steps(step{"MKD newdir", 257, `"/newdir"`}, step{"MKD newdir", 550, ""},
				step{`XMKD with"quote`, 257, `"/with""quote"`})
		}},
		{name: "rmd", run: func(t *testing.T, ts *testServer) {
			setup(t, ts).steps(step{"RMD tempdir/sub", 250, ""}, step{"RMD tempfile", 550, ""},
				step{"RMD /", 550, "Can't remove root directory"}, step{"XRMD tempdir", 250, ""})
		}},
		{name: "dele", run: func(t *testing.T, ts *testServer) {
			setup(t, ts).steps(step{"DELE tempfile", 250, ""}, step{"DELE tempdir", 550, ""}, step{"DELE tempfile", 550, ""})
		}},
		{name: "rnfr_rnto", run: func(t *testing.T, ts *testServer) {
			setup(t, ts).steps(step{"RNFR tempfile", 350, ""}, step{"RNTO renamed", 250, ""},
				step{"RNFR renamed", 350, ""}, step{"RNTO tempfile", 250, ""},
				step{"RNFR tempdir", 350, ""}, step{"RNTO dir2", 250, ""}, step{"RNFR dir2", 350, ""}, step{"RNTO tempdir", 250, ""},
				step{"RNFR bogus", 550, ""}, step{"RNFR tempfile", 350, ""}, step{"RNTO /", 550, ""},
				step{"RNTO tempfile", 503, ""}, step{"RNFR tempfile", 350, ""}, step{"NOOP", 200, ""}, step{"RNTO x", 503, ""},
				step{"RNFR /", 550, "Can't rename home directory"})
		}},
		{name: "mdtm", run: func(t *testing.T, ts *testServer) {
			setup(t, ts).steps(step{"MDTM tempfile", 213, ""}, step{"MDTM bogus", 550, ""}, step{"MDTM tempdir", 550, "Not a regular file"})
		}},
		{name: "mfmt", run: func(t *testing.T, ts *testServer) {
			setup(t, ts).steps(step{"MFMT 20170921013410 tempfile", 213, "Modify=20170921013410; /tempfile"},
				step{"MDTM tempfile", 213, "20170921013410"})
			fi, err := os.Stat(filepath.Join(ts.root, "tempfile"))
			if err != nil || !fi.ModTime().Equal(time.Date(2017, 9, 21, 1, 34, 10, 0, time.UTC)) {
				t.Fatalf("mtime %v, %v", fi.ModTime(), err)
			}
		}},
		{name: "invalid_mfmt_timeval", run: func(t *testing.T, ts *testServer) {
			setup(t, ts).steps(step{"MFMT B017092101341A tempfile", 501, "Invalid time format"},
				step{"MFMT 20170921 tempfile", 501, "Invalid time format"})
		}},
		{name: "missing_mfmt_timeval_arg", run: func(t *testing.T, ts *testServer) {
			setup(t, ts).steps(step{"MFMT tempfile", 501, "Syntax error"})
		}},
		{name: "size (diverges: SIZE in ASCII mode answers the byte size, as vsftpd)", run: func(t *testing.T, ts *testServer) {
			setup(t, ts).steps(step{"SIZE tempfile", 213, "1"}, step{"TYPE A", 200, ""}, step{"SIZE tempfile", 213, "1"},
				step{"SIZE tempdir", 550, "Not a regular file"}, step{"SIZE bogus", 550, ""})
		}},
		{name: "site_chmod", run: func(t *testing.T, ts *testServer) {
			c := setup(t, ts)
			c.steps(step{"SITE CHMOD 777", 501, ""}, step{"SITE CHMOD -177 tempfile", 501, ""},
				step{"SITE CHMOD 778 tempfile", 501, ""}, step{"SITE CHMOD foo tempfile", 501, ""})
			for _, m := range []os.FileMode{0o777, 0o755, 0o555} {
				c.steps(step{fmt.Sprintf("SITE CHMOD %o tempfile", m), 200, ""})
				if got := modeOf(t, ts); got != m {
					t.Fatalf("mode %o, want %o", got, m)
				}
			}
		}},
	})
}

// TestPyftpdlibStoreData: class TestFtpStoreData (STOR, STOU, APPE, REST).
func TestPyftpdlibStoreData(t *testing.T) {
	data := bytes.Repeat([]byte("abcde12345"), 100000)
	runPyCases(t, []pyCase{
		{name: "stor", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			if code := c.store("STOR f", data); code != 226 {
				t.Fatal(code)
			}
			if got, code := c.retrieve("RETR f"); code != 226 || !bytes.Equal(got, data) {
				t.Fatalf("%d, %d bytes", code, len(got))
			}
		}},
		{name: "stor_active", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			ln := c.port()
			c.expect1("STOR f")
			d, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			d.Write(data)
			d.Close()
			c.expectReply(226)
			if !bytes.Equal(ts.read(t, "f"), data) {
				t.Fatal("differs")
			}
		}},
		{name: "stor_ascii", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.expect("TYPE A", 200)
			if code := c.store("STOR f", bytes.Repeat([]byte("abcde12345\r\n"), 100000)); code != 226 {
				t.Fatal(code)
			}
			if !bytes.Equal(ts.read(t, "f"), bytes.Repeat([]byte("abcde12345\n"), 100000)) {
				t.Fatal("differs")
			}
		}},
		{name: "stor_ascii_2 (CR LF split across reads)", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.expect("TYPE A", 200)
			d := c.epsv()
			c.expect1("STOR f")
			msg := []byte("\r\n foo \r\n bar")
			for i := 0; i < len(msg); i += 2 {
				d.Write(msg[i:min(i+2, len(msg))])
				time.Sleep(5 * time.Millisecond)
			}
			d.Close()
			c.expectReply(226)
			if got := string(ts.read(t, "f")); got != "\n foo \n bar" {
				t.Fatalf("%q", got)
			}
		}},
		{name: "stou (diverges: EPSV before STOU; pyftpdlib takes STOU before PORT, vsftpd and this server answer 425)", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.steps(step{"STOU", 425, "Use PORT or PASV first"})
			d := c.epsv()
			text := c.expect1("STOU")
			_, name, ok := strings.Cut(text, "FILE: ")
			if !ok {
				t.Fatalf("STOU reply %q", text)
			}
			d.Write(data)
			d.Close()
			c.expectReply(226)
			if !bytes.Equal(ts.read(t, name), data) {
				t.Fatal("differs")
			}
			// With a name: that name, then name.1, …
			ts.write(t, "given", nil)
			c.epsv()
			if text := c.expect1("STOU given"); text != "FILE: given.1" {
				t.Fatalf("STOU given: %q", text)
			}
			c.steps(step{"ABOR", 426, ""})
			c.read() // 226
		}},
		{name: "stou_rest", run: func(t *testing.T, ts *testServer) {
			userClient(t, ts).steps(step{"REST 10", 350, ""}, step{"STOU", 450, "Can't STOU while REST"})
		}},
		{name: "stou_orphaned_file", run: func(t *testing.T, ts *testServer) {
			c := dialClient(t, ts.addr)
			c.login("anonymous", "@nopasswd")
			c.epsv()
			c.steps(step{"STOU", 550, "Permission denied"})
			if ents, _ := os.ReadDir(ts.root); len(ents) != 0 {
				t.Fatalf("left behind: %v", ents)
			}
		}},
		{name: "appe", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.store("STOR f", data)
			more := bytes.Repeat([]byte("fghil67890"), 100000)
			if code := c.store("APPE f", more); code != 226 {
				t.Fatal(code)
			}
			if !bytes.Equal(ts.read(t, "f"), append(bytes.Clone(data), more...)) {
				t.Fatal("differs")
			}
		}},
		{name: "appe_rest", run: func(t *testing.T, ts *testServer) {
			userClient(t, ts).steps(step{"REST 10", 350, ""}, step{"APPE x", 450, "Can't APPE while REST"})
		}},
		{name: "rest_on_stor", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			if code := c.store("STOR f", data[:65536]); code != 226 {
				t.Fatal(code)
			}
			c.steps(step{"SIZE f", 213, "65536"}, step{"REST 65537", 350, ""})
			c.epsv()
			c.steps(step{"STOR f", 554, ""}, step{"REST 65536", 350, ""})
			if code := c.store("STOR f", data[65536:]); code != 226 {
				t.Fatal(code)
			}
			if !bytes.Equal(ts.read(t, "f"), data) {
				t.Fatal("differs")
			}
		}},
		{name: "failing_rest_on_stor (diverges: 553, as vsftpd answers an upload it cannot open; pyftpdlib says 550)", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.steps(step{"REST 10", 350, ""})
			c.epsv()
			c.steps(step{"STOR f", 553, "Could not create file"})
			if code := c.store("STOR f", make([]byte, 4096)); code != 226 { // the REST marker was reset
				t.Fatal(code)
			}
			if len(ts.read(t, "f")) != 4096 {
				t.Fatal("size")
			}
		}},
		{name: "quit_during_transfer", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			d := c.epsv()
			c.expect1("STOR f")
			d.Write(data[:500000])
			c.steps(step{"QUIT", 221, ""})
			d.Write(data[500000:])
			d.Close()
			if code, _ := c.read(); code != 226 {
				t.Fatal(code)
			}
			if !c.closed() {
				t.Fatal("still open")
			}
			if !bytes.Equal(ts.read(t, "f"), data) {
				t.Fatal("differs")
			}
		}},
		{name: "stor_empty_file", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			if code := c.store("STOR f", nil); code != 226 || len(ts.read(t, "f")) != 0 {
				t.Fatal(code)
			}
		}},
	})
}

// TestPyftpdlibRetrieveData: class TestFtpRetrieveData (RETR, REST, TYPE).
func TestPyftpdlibRetrieveData(t *testing.T) {
	data := bytes.Repeat([]byte("abcde12345"), 100000)
	runPyCases(t, []pyCase{
		{name: "retr", run: func(t *testing.T, ts *testServer) {
			ts.write(t, "f", data)
			c := userClient(t, ts)
			if got, code := c.retrieve("RETR f"); code != 226 || !bytes.Equal(got, data) {
				t.Fatalf("%d, %d bytes", code, len(got))
			}
			if _, code := c.retrieve("RETR bogus"); code != 550 {
				t.Fatal(code)
			}
		}},
		{name: "retr_ascii", run: func(t *testing.T, ts *testServer) {
			ts.write(t, "f", bytes.Repeat([]byte("abcde12345\n"), 100000))
			c := userClient(t, ts)
			c.expect("TYPE A", 200)
			if got, code := c.retrieve("RETR f"); code != 226 || !bytes.Equal(got, bytes.Repeat([]byte("abcde12345\r\n"), 100000)) {
				t.Fatalf("%d, %d bytes", code, len(got))
			}
		}},
		{name: "retr_ascii_already_crlf", run: func(t *testing.T, ts *testServer) {
			crlf := bytes.Repeat([]byte("abcde12345\r\n"), 100000)
			ts.write(t, "f", crlf)
			c := userClient(t, ts)
			c.expect("TYPE A", 200)
			if got, code := c.retrieve("RETR f"); code != 226 || !bytes.Equal(got, crlf) {
				t.Fatalf("%d, %d bytes", code, len(got))
			}
		}},
		{name: "restore_on_retr", run: func(t *testing.T, ts *testServer) {
			big := testtool.Pattern(32<<20, 4)
			ts.write(t, "f", big)
			c := userClient(t, ts)
			d := c.epsv()
			c.expect1("RETR f")
			got := make([]byte, 1<<20)
			if _, err := io.ReadFull(d, got); err != nil {
				t.Fatal(err)
			}
			d.(*net.TCPConn).SetLinger(0)
			d.Close()
			c.expectReply(426) // the transfer was cut short
			c.steps(step{"SIZE f", 213, strconv.Itoa(len(big))}, step{fmt.Sprintf("REST %d", len(big)+1), 350, ""})
			c.epsv()
			c.steps(step{"RETR f", 554, ""}, step{fmt.Sprintf("REST %d", len(got)), 350, ""})
			rest, code := c.retrieve("RETR f")
			if code != 226 || !bytes.Equal(append(got, rest...), big) {
				t.Fatalf("resumed: %d, %d bytes", code, len(rest))
			}
		}},
		{name: "retr_empty_file", run: func(t *testing.T, ts *testServer) {
			ts.write(t, "f", nil)
			c := userClient(t, ts)
			if got, code := c.retrieve("RETR f"); code != 226 || len(got) != 0 {
				t.Fatal(code)
			}
		}},
		{name: "retr_dir", run: func(t *testing.T, ts *testServer) {
			os.Mkdir(filepath.Join(ts.root, "d"), 0o755)
			c := userClient(t, ts)
			if _, code := c.retrieve("RETR d"); code != 550 {
				t.Fatal(code)
			}
		}},
	})
}

// TestPyftpdlibListingCmds: class TestFtpListingCmds (LIST, NLST, MLSD,
// MLST, STAT with a path).
func TestPyftpdlibListingCmds(t *testing.T) {
	setup := func(t *testing.T, ts *testServer) *client {
		ts.write(t, "testfn", []byte("hello"))
		os.Mkdir(filepath.Join(ts.root, "emptydir"), 0o755)
		return userClient(t, ts)
	}
	common := func(cmd string) func(t *testing.T, ts *testServer) {
		return func(t *testing.T, ts *testServer) {
			c := setup(t, ts)
			l1, code1 := c.retrieve(cmd)
			l2, code2 := c.retrieve(cmd + " /")
			if code1 != 226 || code2 != 226 || !bytes.Equal(l1, l2) || len(l1) == 0 {
				t.Fatalf("%s vs %s /: %d %q, %d %q", cmd, cmd, code1, l1, code2, l2)
			}
			if cmd != "MLSD" {
				one, code := c.retrieve(cmd + " testfn")
				if code != 226 || bytes.Count(one, []byte("\r\n")) != 1 || !bytes.HasSuffix(one, []byte("testfn\r\n")) {
					t.Fatalf("%s of a file: %d %q", cmd, code, one)
				}
			} else {
				c.epsv()
				c.steps(step{"MLSD testfn", 501, ""})
			}
			if _, code := c.retrieve(cmd + " bogus"); code != 550 {
				t.Fatalf("%s bogus: %d", cmd, code)
			}
			if empty, code := c.retrieve(cmd + " emptydir"); code != 226 || len(empty) != 0 {
				t.Fatalf("%s of an empty folder: %d %q", cmd, code, empty)
			}
		}
	}
	mlstLine := func(c *client, cmd string) string {
		text := c.expect(cmd, 250)
		lines := strings.Split(text, "\n")
		if len(lines) != 3 {
			c.t.Fatalf("%s: %q", cmd, text)
		}
		return lines[1]
	}
	runPyCases(t, []pyCase{
		{name: "nlst", run: common("NLST")},
		{name: "list", run: common("LIST")},
		{name: "mlsd", run: common("MLSD")},
		{name: "list_options", run: func(t *testing.T, ts *testServer) {
			c := setup(t, ts)
			want, _ := c.retrieve("LIST /")
			for _, cmd := range []string{"LIST -a", "LIST -l", "LIST -al", "LIST -la", "LIST -la /"} {
				if got, code := c.retrieve(cmd); code != 226 || !bytes.Equal(got, want) {
					t.Fatalf("%s: %q, want %q", cmd, got, want)
				}
			}
		}},
		{name: "mlst", run: func(t *testing.T, ts *testServer) {
			c := setup(t, ts)
			if l := mlstLine(c, "MLST"); !strings.HasPrefix(l, " ") || !strings.HasSuffix(l, " /") || !strings.Contains(l, "type=dir") {
				t.Fatalf("MLST: %q", l)
			}
			if l := mlstLine(c, "MLST testfn"); !strings.HasSuffix(l, " /testfn") || !strings.Contains(l, "type=file") || !strings.Contains(l, "size=5;") {
				t.Fatalf("MLST testfn: %q", l)
			}
			if mlstLine(c, "MLST") != mlstLine(c, "MLST /") {
				t.Fatal("MLST != MLST /")
			}
			c.steps(step{"MLST bogus", 550, ""}, step{"OPTS MLST type;", 200, ""})
			if l := mlstLine(c, "MLST"); l != " type=dir; /" {
				t.Fatalf("%q", l)
			}
			c.steps(step{"OPTS MLST", 200, ""})
			if l := mlstLine(c, "MLST"); l != "  /" {
				t.Fatalf("%q", l)
			}
		}},
		{name: "mlsd_all_facts", run: func(t *testing.T, ts *testServer) {
			c := setup(t, ts)
			c.steps(step{"OPTS MLST type;perm;size;modify;unique;unix.mode;unix.uid;unix.gid;", 200, ""})
			got, _ := c.retrieve("MLSD")
			for _, f := range []string{"type=", "perm=", "size=", "modify=", "unique=", "unix.mode=", "unix.uid=", "unix.gid="} {
				if !bytes.Contains(got, []byte(f)) {
					t.Fatalf("no %s in %q", f, got)
				}
			}
		}},
		{name: "stat", run: func(t *testing.T, ts *testServer) {
			c := setup(t, ts)
			c.steps(step{"STAT /", 213, "testfn"}, step{"STAT testfn", 213, "testfn"},
				step{"STAT *", 550, "Globbing not supported."}, step{"STAT bogus", 550, ""})
		}},
		{name: "unforeseen_time_event", run: func(t *testing.T, ts *testServer) {
			c := setup(t, ts)
			old := time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)
			if err := os.Chtimes(filepath.Join(ts.root, "testfn"), old, old); err != nil {
				t.Skip("cannot set an old mtime:", err)
			}
			c.steps(step{"STAT /", 213, ""}, step{"MLST testfn", 250, ""}, step{"NOOP", 200, ""})
		}},
	})
}

// TestPyftpdlibAbort: class TestFtpAbort (ABOR in every state).
func TestPyftpdlibAbort(t *testing.T) {
	runPyCases(t, []pyCase{
		{name: "abor_no_data", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.steps(step{"ABOR", 225, "No transfer to abort"})
			if _, code := c.retrieve("LIST"); code != 226 {
				t.Fatal(code)
			}
		}},
		{name: "abor_pasv", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.expect("PASV", 227)
			c.steps(step{"ABOR", 225, ""}, step{"RETR x", 425, ""})
			if _, code := c.retrieve("LIST"); code != 226 {
				t.Fatal(code)
			}
		}},
		{name: "abor_port", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.port()
			c.steps(step{"ABOR", 225, ""})
			if _, code := c.retrieve("LIST"); code != 226 {
				t.Fatal(code)
			}
		}},
		{name: "abor_during_transfer", run: func(t *testing.T, ts *testServer) {
			ts.write(t, "f", testtool.Pattern(32<<20, 5))
			c := userClient(t, ts)
			d := c.epsv()
			c.expect1("RETR f")
			io.ReadFull(d, make([]byte, 65536))
			c.steps(step{"ABOR", 426, ""})
			if code, _ := c.read(); code != 226 {
				t.Fatal(code)
			}
			d.SetReadDeadline(time.Now().Add(opTimeout))
			io.Copy(io.Discard, d) // reset or cut short, never hanging
			c.steps(step{"NOOP", 200, ""})
		}},
		{name: "oob_abor", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			sendUrgent(t, c.conn, []byte{255, 244}) // IAC IP
			sendUrgent(t, c.conn, []byte{255, 242}) // IAC DM, the synch
			c.steps(step{"ABOR", 225, ""}, step{"NOOP", 200, ""})
		}},
		{name: "oob_abor_during_transfer", run: func(t *testing.T, ts *testServer) {
			ts.write(t, "f", testtool.Pattern(32<<20, 6))
			c := userClient(t, ts)
			d := c.epsv()
			c.expect1("RETR f")
			io.ReadFull(d, make([]byte, 65536))
			sendUrgent(t, c.conn, []byte{255, 244})
			sendUrgent(t, c.conn, []byte{255, 242})
			c.steps(step{"ABOR", 426, ""})
			if code, _ := c.read(); code != 226 {
				t.Fatal(code)
			}
			c.steps(step{"NOOP", 200, ""})
		}},
	})
}

// sendUrgent sends b with MSG_OOB, its last byte urgent, as a client's
// Telnet synch (RFC 959 §4.1.3).
func sendUrgent(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Write(func(fd uintptr) bool {
		serr = unix.Send(int(fd), b, unix.MSG_OOB)
		return true
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
}

// TestPyftpdlibTimeouts: class TestTimeouts (control, data and passive
// timeouts) and ThreadedFTPTests.test_idle_timeout.
func TestPyftpdlibTimeouts(t *testing.T) {
	runPyCases(t, []pyCase{
		{name: "idle_timeout", cfg: serverConfig{opts: []ftp.Option{ftp.WithIdleTimeout(100 * time.Millisecond)}},
			run: func(t *testing.T, ts *testServer) {
				c := userClient(t, ts)
				if code, text := c.read(); code != 421 || !strings.Contains(text, "Timeout") {
					t.Fatalf("%d %s", code, text)
				}
				if !c.closed() {
					t.Fatal("open after the idle timeout")
				}
			}},
		{name: "data_timeout (diverges: the idle data connection closes, the session stays)",
			cfg: serverConfig{opts: []ftp.Option{ftp.WithStallTimeout(100 * time.Millisecond)}},
			run: func(t *testing.T, ts *testServer) {
				c := userClient(t, ts)
				d := c.epsv()
				d.SetReadDeadline(time.Now().Add(opTimeout))
				if _, err := d.Read(make([]byte, 1)); err == nil {
					t.Fatal("data connection still open")
				}
				c.steps(step{"RETR x", 425, "Use PORT or PASV first"}, step{"NOOP", 200, ""})
			}},
		{name: "data_timeout_not_reached", cfg: serverConfig{opts: []ftp.Option{ftp.WithStallTimeout(100 * time.Millisecond)}},
			run: func(t *testing.T, ts *testServer) {
				c := userClient(t, ts)
				d := c.epsv()
				c.expect1("STOR f")
				for stop := time.Now().Add(300 * time.Millisecond); time.Now().Before(stop); {
					d.Write(make([]byte, 1024))
					time.Sleep(10 * time.Millisecond)
				}
				d.Close()
				c.expectReply(226)
			}},
		{name: "stalled_transfer", cfg: serverConfig{opts: []ftp.Option{ftp.WithStallTimeout(200 * time.Millisecond)}},
			run: func(t *testing.T, ts *testServer) {
				ts.write(t, "f", testtool.Pattern(64<<20, 7))
				c := userClient(t, ts)
				c.epsv() // never read
				c.expect1("RETR f")
				if code, _ := c.read(); code != 426 {
					t.Fatal(code)
				}
				c.steps(step{"NOOP", 200, ""})
			}},
		{name: "idle_data_timeout1 (control timeout suspended while a data connection is open)",
			cfg: serverConfig{opts: []ftp.Option{ftp.WithIdleTimeout(100 * time.Millisecond), ftp.WithStallTimeout(time.Minute)}},
			run: func(t *testing.T, ts *testServer) {
				c := userClient(t, ts)
				c.epsv()
				time.Sleep(400 * time.Millisecond)
				c.steps(step{"NOOP", 200, ""})
			}},
		{name: "idle_data_timeout2 (restarted once the data connection closed)",
			cfg: serverConfig{opts: []ftp.Option{ftp.WithIdleTimeout(100 * time.Millisecond)}},
			run: func(t *testing.T, ts *testServer) {
				c := userClient(t, ts)
				c.epsv()
				c.steps(step{"ABOR", 225, ""})
				if code, _ := c.read(); code != 421 {
					t.Fatal(code)
				}
				if !c.closed() {
					t.Fatal("open after the idle timeout")
				}
			}},
		{name: "pasv_timeout (diverges: the port closes silently, the next transfer gets 425)",
			cfg: serverConfig{opts: []ftp.Option{ftp.WithDataAcceptTimeout(100 * time.Millisecond)}},
			run: func(t *testing.T, ts *testServer) {
				c := userClient(t, ts)
				c.expect("EPSV", 229)
				time.Sleep(300 * time.Millisecond)
				c.steps(step{"NOOP", 200, ""}, step{"LIST", 425, ""})
				c.expect("EPSV", 229)
				c.expect1("LIST")
				if code, text := c.read(); code != 425 || !strings.Contains(text, "did not connect") {
					t.Fatalf("%d %s", code, text)
				}
			}},
		{name: "disabled_idle_timeout", cfg: serverConfig{opts: []ftp.Option{ftp.WithIdleTimeout(0)}},
			run: func(t *testing.T, ts *testServer) { userClient(t, ts).steps(step{"NOOP", 200, ""}) }},
	})
}

// TestPyftpdlibConfigurableOptions: class TestConfigurableOptions.
func TestPyftpdlibConfigurableOptions(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() }) // after the parallel subtests
	busyPort := busy.Addr().(*net.TCPAddr).Port
	t.Run("group", func(t *testing.T) {
		runPyCases(t, []pyCase{
			{name: "max_connections", cfg: serverConfig{opts: []ftp.Option{ftp.WithMaxSessions(2)}},
				run: func(t *testing.T, ts *testServer) {
					c1 := userClient(t, ts)
					dialClient(t, ts.addr)
					c3, err := net.Dial("tcp", ts.addr)
					if err != nil {
						t.Fatal(err)
					}
					defer c3.Close()
					c3.SetReadDeadline(time.Now().Add(opTimeout))
					b, _ := io.ReadAll(c3)
					if !strings.HasPrefix(string(b), "421 ") {
						t.Fatalf("third session: %q", b)
					}
					c1.steps(step{"NOOP", 200, ""})
				}},
			{name: "max_connections_per_ip", cfg: serverConfig{opts: []ftp.Option{ftp.WithMaxSessionsPerIP(3)}},
				run: func(t *testing.T, ts *testServer) {
					for range 3 {
						dialClient(t, ts.addr)
					}
					c4, err := net.Dial("tcp", ts.addr)
					if err != nil {
						t.Fatal(err)
					}
					defer c4.Close()
					c4.SetReadDeadline(time.Now().Add(opTimeout))
					b, _ := io.ReadAll(c4)
					if !strings.HasPrefix(string(b), "421 ") || !strings.Contains(string(b), "your internet address") {
						t.Fatalf("fourth session: %q", b)
					}
				}},
			{name: "banner", cfg: serverConfig{opts: []ftp.Option{ftp.WithBanner("hello there")}},
				run: func(t *testing.T, ts *testServer) {
					c, err := net.Dial("tcp", ts.addr)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					c.SetReadDeadline(time.Now().Add(opTimeout))
					line := make([]byte, 64)
					n, _ := c.Read(line)
					if string(line[:n]) != "220 hello there\r\n" {
						t.Fatalf("%q", line[:n])
					}
				}},
			{name: "max_login_attempts", cfg: serverConfig{opts: []ftp.Option{ftp.WithMaxLoginFailures(1), ftp.WithLoginFailureDelay(0)}},
				run: func(t *testing.T, ts *testServer) {
					c := dialClient(t, ts.addr)
					c.steps(step{"USER wrong", 331, ""}, step{"PASS wrong", 530, ""})
					if !c.closed() {
						t.Fatal("open after a failed login")
					}
				}},
			{name: "masquerade_address", cfg: serverConfig{opts: []ftp.Option{ftp.WithPublicIP(netip.MustParseAddr("128.128.128.128"))}},
				run: func(t *testing.T, ts *testServer) {
					userClient(t, ts).steps(step{"PASV", 227, "(128,128,128,128,"})
				}},
			{name: "passive_ports", cfg: serverConfig{opts: []ftp.Option{ftp.WithPassivePorts(40000, 40099)}},
				run: func(t *testing.T, ts *testServer) {
					c := userClient(t, ts)
					for range 4 {
						text := c.expect("EPSV", 229)
						p, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(text[strings.Index(text, "(|||"):], "(|||"), "|)."))
						if p < 40000 || p > 40099 {
							t.Fatalf("port %d from %q", p, text)
						}
					}
				}},
			{name: "passive_ports_busy (diverges: 425, no port outside the range)",
				cfg: serverConfig{opts: []ftp.Option{ftp.WithPassivePorts(busyPort, busyPort)}},
				run: func(t *testing.T, ts *testServer) {
					userClient(t, ts).steps(step{"PASV", 425, ""}, step{"NOOP", 200, ""})
				}},
			{name: "use_gmt_times", run: func(t *testing.T, ts *testServer) {
				ts.write(t, "f", nil)
				mt := time.Date(2020, 6, 1, 23, 30, 0, 0, time.FixedZone("x", 5*3600))
				os.Chtimes(filepath.Join(ts.root, "f"), mt, mt)
				userClient(t, ts).steps(step{"MDTM f", 213, "20200601183000"}, step{"MLST f", 250, "modify=20200601183000;"},
					step{"STAT f", 213, "Jun 01  2020"})
			}},
		})
	})
}

// TestPyftpdlibCallbacks: class TestCallbacks, as the transfer log (the
// hooks pyftpdlib calls on_file_sent, on_incomplete_file_received, …).
func TestPyftpdlibCallbacks(t *testing.T) {
	t.Parallel()
	rec := &recordHandler{}
	ts := startServer(t, serverConfig{opts: []ftp.Option{ftp.WithTransferLog(slog.New(rec))}})
	ts.write(t, "down", testtool.Pattern(32<<20, 8))
	c := userClient(t, ts)
	c.store("STOR up", []byte("data"))
	c.retrieve("RETR up")
	d := c.epsv()
	c.expect1("STOR part")
	d.Write(make([]byte, 100000))
	c.steps(step{"ABOR", 426, ""})
	c.read()
	d = c.epsv()
	c.expect1("RETR down")
	io.ReadFull(d, make([]byte, 100000))
	d.(*net.TCPConn).SetLinger(0)
	d.Close()
	c.expectReply(426)
	c.steps(step{"QUIT", 221, ""})
	c.closed()
	want := []string{
		"upload STOR /up user bytes=4 complete",
		"download RETR /up user bytes=4 complete",
		"upload STOR /part user aborted",
		"download RETR /down user failed",
	}
	waitFor(t, "transfer log", func() bool { return len(rec.lines()) == len(want) })
	for i, l := range rec.lines() {
		for _, w := range strings.Fields(want[i]) {
			if !strings.Contains(l, w) {
				t.Errorf("log line %d %q lacks %q", i, l, w)
			}
		}
	}
}

// recordHandler is a slog.Handler that keeps each record as a line.
type recordHandler struct {
	mu  sync.Mutex
	out []string
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "direction", "command", "path", "user", "status":
			b.WriteString(a.Value.String() + " ")
		case "bytes":
			b.WriteString("bytes=" + a.Value.String() + " ")
		}
		return true
	})
	h.mu.Lock()
	h.out = append(h.out, b.String())
	h.mu.Unlock()
	return nil
}

func (h *recordHandler) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.out...)
}

// waitFor polls cond for up to opTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(opTimeout); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// networkCases are class _TestNetworkProtocols's, run over IPv4 and IPv6.
func networkCases(host, proto, other string) []pyCase {
	cfg := serverConfig{host: host}
	return []pyCase{
		{name: "eprt", cfg: cfg, run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.steps(step{fmt.Sprintf("EPRT |%s|%s|2048|", other, host), 522, ""},
				step{"EPRT ||||", 501, "Invalid EPRT format"}, step{"EPRT ||", 501, "Invalid EPRT format"},
				step{fmt.Sprintf("EPRT |%s|%s|65536|", proto, host), 501, "Invalid EPRT format"},
				step{fmt.Sprintf("EPRT |%s|%s|-1|", proto, host), 501, "Invalid EPRT format"},
				step{fmt.Sprintf("EPRT |%s|%s|222|", proto, host), 501, "privileged port"},
				step{fmt.Sprintf("EPRT |3|%s|2048|", host), 522, ""})
			if proto == "1" {
				c.steps(step{"EPRT |1|1.2.3.4.5|2048|", 501, "Invalid EPRT format"},
					step{"EPRT |1|1.2.3.256|2048|", 501, "Invalid EPRT format"},
					step{"EPRT |2|1.2.3.256|2048|", 522, "Network protocol not supported"})
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			c.steps(step{fmt.Sprintf("EPRT |%s|%s|%d|", proto, host, ln.Addr().(*net.TCPAddr).Port), 200, ""})
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(opTimeout))
			d, err := ln.Accept()
			if err != nil {
				t.Fatal("the server did not connect:", err)
			}
			defer d.Close()
			c.steps(step{"NLST", 125, ""})
			c.expectReply(226)
		}},
		{name: "epsv", cfg: cfg, run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.steps(step{"EPSV " + other, 522, ""}, step{"EPSV 3", 522, ""})
			for _, cmd := range []string{"EPSV", "EPSV " + proto} {
				text := c.expect(cmd, 229)
				port := strings.TrimSuffix(text[strings.Index(text, "(|||")+4:], "|).")
				d, err := net.Dial("tcp", net.JoinHostPort(host, port))
				if err != nil {
					t.Fatal(err)
				}
				c.steps(step{"ABOR", 225, ""})
				d.Close()
			}
		}},
		{name: "epsv_all", cfg: cfg, run: func(t *testing.T, ts *testServer) {
			userClient(t, ts).steps(step{"EPSV ALL", 200, ""}, step{"PASV", 501, "EPSV ALL"},
				step{"PORT 127,0,0,1,7,208", 501, "EPSV ALL"}, step{fmt.Sprintf("EPRT |%s|%s|2000|", proto, host), 501, "EPSV ALL"},
				step{"EPSV", 229, ""})
		}},
		{name: "list_over_epsv", cfg: cfg, run: func(t *testing.T, ts *testServer) {
			ts.write(t, "f", nil)
			if got, code := userClient(t, ts).retrieve("LIST"); code != 226 || !bytes.Contains(got, []byte(" f\r\n")) {
				t.Fatalf("%d %q", code, got)
			}
		}},
	}
}

// TestPyftpdlibIPv4Environment: class TestIPv4Environment.
func TestPyftpdlibIPv4Environment(t *testing.T) {
	cases := networkCases("127.0.0.1", "1", "2")
	cases = append(cases,
		pyCase{name: "port_v4", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			c.port()
			c.steps(step{"ABOR", 225, ""})
			for _, bad := range []string{"127,0,0,1,1.1", "X,0,0,1,1,1", "127,0,0,1,1,1,1", "127,0,0,1",
				"256,0,0,1,1,1", "127,0,0,1,256,1", "127,0,0,1,-1,0"} {
				c.steps(step{"PORT " + bad, 501, "Invalid PORT format"})
			}
			c.steps(step{"PORT 127,0,0,1,1,1", 501, "privileged port"}, step{"PORT 1,2,3,4,4,4", 501, "foreign address"})
		}},
		pyCase{name: "eprt_v4", run: func(t *testing.T, ts *testServer) {
			userClient(t, ts).steps(step{"EPRT |1|0.10.10.10|2222|", 501, "foreign address"})
		}},
		pyCase{name: "pasv_v4", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			d := c.pasv()
			c.expect1("NLST")
			io.Copy(io.Discard, d)
			c.expectReply(226)
		}},
	)
	runPyCases(t, cases)
}

// TestPyftpdlibIPv6Environment: class TestIPv6Environment.
func TestPyftpdlibIPv6Environment(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	ln.Close()
	cases := networkCases("::1", "2", "1")
	cases = append(cases,
		pyCase{name: "port_v6", cfg: serverConfig{host: "::1"}, run: func(t *testing.T, ts *testServer) {
			userClient(t, ts).steps(step{"PORT 127,0,0,1,7,208", 522, ""})
		}},
		pyCase{name: "pasv_v6 (diverges: PASV is IPv4 only; EPSV serves IPv6)", cfg: serverConfig{host: "::1"},
			run: func(t *testing.T, ts *testServer) {
				userClient(t, ts).steps(step{"PASV", 522, "EPSV"}, step{"EPSV", 229, ""})
			}},
		pyCase{name: "eprt_v6", cfg: serverConfig{host: "::1"}, run: func(t *testing.T, ts *testServer) {
			userClient(t, ts).steps(step{"EPRT |2|::foo|2222|", 501, "Invalid EPRT format"}, step{"EPRT |2|::f00|2222|", 501, "foreign address"})
		}},
	)
	runPyCases(t, cases)
}

// TestPyftpdlibIPv6MixedEnvironment: class TestIPv6MixedEnvironment: a
// server listening on "::" serves IPv4 clients, with IPv4 addresses in its
// replies.
func TestPyftpdlibIPv6MixedEnvironment(t *testing.T) {
	ln, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Skip("no dual-stack socket:", err)
	}
	ln.Close()
	t.Parallel()
	ts := startServer(t, serverConfig{host: "::"})
	_, port, _ := net.SplitHostPort(ts.addr)
	c := dialClient(t, "127.0.0.1:"+port)
	c.login(testUser, testPass)
	if text := c.expect("PASV", 227); !strings.Contains(text, "(127,0,0,1,") {
		t.Fatalf("PASV %q", text)
	}
	if _, code := c.retrieve("LIST"); code != 226 {
		t.Fatal(code)
	}
	c.port()
	c.steps(step{"ABOR", 225, ""}, step{"MLST /", 250, " /"})
}

// TestPyftpdlibCornerCases: class TestCornerCases.
func TestPyftpdlibCornerCases(t *testing.T) {
	runPyCases(t, []pyCase{
		{name: "port_race_condition", run: func(t *testing.T, ts *testServer) {
			c := userClient(t, ts)
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			defer ln.Close()
			p := ln.Addr().(*net.TCPAddr).Port
			c.send(fmt.Sprintf("PORT 127,0,0,1,%d,%d", p>>8, p&0xff))
			c.conn.Close() // before accepting the data connection
			if d, err := ln.Accept(); err == nil {
				d.Close()
			}
			userClient(t, ts).steps(step{"NOOP", 200, ""})
		}},
		{name: "quick_connect", run: func(t *testing.T, ts *testServer) {
			reset := func(addr string) {
				d, err := net.Dial("tcp", addr)
				if err == nil {
					d.(*net.TCPConn).SetLinger(0)
					d.Close()
				}
			}
			for range 10 {
				reset(ts.addr)
			}
			c := userClient(t, ts)
			for range 10 {
				text := c.expect("PASV", 227)
				addr, _ := parse227(text)
				reset(addr)
			}
			c.steps(step{"NOOP", 200, ""})
		}},
		{name: "active_conn_error", run: func(t *testing.T, ts *testServer) {
			// A port that is bound but not listening refuses.
			l, _ := net.Listen("tcp", "127.0.0.1:0")
			p := l.Addr().(*net.TCPAddr).Port
			l.Close()
			userClient(t, ts).steps(step{fmt.Sprintf("PORT 127,0,0,1,%d,%d", p>>8, p&0xff), 425, ""}, step{"NOOP", 200, ""})
		}},
		{name: "pipelined_commands", run: func(t *testing.T, ts *testServer) {
			ts.write(t, "f", []byte("abc"))
			c := userClient(t, ts)
			c.send("NOOP\r\nSIZE f\r\nPWD\r\nMDTM bogus")
			for _, want := range []int{200, 213, 257, 550} {
				if code, text := c.read(); code != want {
					t.Fatalf("got %d %s, want %d", code, text, want)
				}
			}
		}},
	})
}
