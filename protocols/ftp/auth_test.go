package ftp_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/reactorkit/reactor/protocols/ftp"
)

// hash is a bcrypt hash of pw at cost.
func hash(t *testing.T, pw string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// usersFile writes a users file of lines and returns its path.
func usersFile(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUsersFile: the accounts of a bcrypt users file log in to their own
// root, read-only or read-write as their line says; an unknown user, a
// wrong password and another user's password get 530.
func TestUsersFile(t *testing.T) {
	t.Parallel()
	def, roRoot, rwRoot := t.TempDir(), t.TempDir(), t.TempDir()
	for dir, who := range map[string]string{def: "default", roRoot: "ro", rwRoot: "rw"} {
		if err := os.WriteFile(filepath.Join(dir, "whoami"), []byte(who), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := usersFile(t,
		"# name:hash[:root[:ro|rw]]",
		"",
		"reader:"+hash(t, "r-pw", bcrypt.MinCost)+":"+roRoot+":ro",
		"writer:"+hash(t, "w-pw", bcrypt.MinCost)+":"+rwRoot+":rw",
		"plain:"+hash(t, "p-pw", bcrypt.MinCost),
	)
	ts := startServer(t, serverConfig{root: def, opts: []ftp.Option{ftp.WithUsersFile(file, def)}})
	for _, tc := range []struct {
		name, user, pass string
		code             int    // PASS's reply
		root             string // whoami's content once logged in
		write            bool
	}{
		{"read-only own root", "reader", "r-pw", 230, "ro", false},
		{"read-write own root", "writer", "w-pw", 230, "rw", true},
		{"default root, read-write", "plain", "p-pw", 230, "default", true},
		{"wrong password", "reader", "wrong", 530, "", false},
		{"another user's password", "writer", "r-pw", 530, "", false},
		{"unknown user", "nobody", "r-pw", 530, "", false},
		{"empty password", "plain", "", 530, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialClient(t, ts.addr)
			c.steps(step{"USER " + tc.user, 331, ""}, step{"PASS " + tc.pass, tc.code, ""})
			if tc.code != 230 {
				c.steps(step{"PWD", 530, ""})
				return
			}
			c.steps(step{"TYPE I", 200, ""}, step{"CWD ..", 250, ""}, step{"PWD", 257, `"/"`})
			if got, code := c.retrieve("RETR whoami"); code != 226 || string(got) != tc.root {
				t.Fatalf("RETR whoami: %d %q, want the %s root's", code, got, tc.root)
			}
			up := "up-" + tc.user
			code := c.store("STOR "+up, []byte("x"))
			_, err := os.Stat(filepath.Join(map[string]string{"default": def, "ro": roRoot, "rw": rwRoot}[tc.root], up))
			switch {
			case tc.write && (code != 226 || err != nil):
				t.Fatalf("STOR: %d, %v", code, err)
			case !tc.write && (code != 550 || err == nil):
				t.Fatalf("STOR as a read-only user: %d, file made: %v", code, err == nil)
			}
		})
	}
}

// slowHash hashes pw at the lowest bcrypt cost from 8 up whose hashing
// takes 200 ms here or more (cost 12 or so; less under the race detector,
// which slows bcrypt tenfold), so that a check done on the loop would
// stall it visibly and the test still takes a bounded time. It returns
// the hash and the time one check of it takes, the faster of two
// measures.
func slowHash(t *testing.T, pw string) (string, time.Duration) {
	t.Helper()
	for cost := 8; ; cost++ {
		start := time.Now()
		h := hash(t, pw, cost)
		took := time.Since(start)
		if took < 200*time.Millisecond && cost < 16 {
			continue
		}
		start = time.Now()
		if err := bcrypt.CompareHashAndPassword([]byte(h), []byte(pw)); err != nil {
			t.Fatal(err)
		}
		return h, min(took, time.Since(start))
	}
}

// TestSlowLogins: bcrypt checks run off the loop, so logins with a
// costly hash do not delay the NOOPs of other sessions on the same
// (single) loop; and WithMaxConcurrentLogins(1) makes concurrent logins
// take their turn. Not in parallel: both measure time.
func TestSlowLogins(t *testing.T) {
	h, check := slowHash(t, "slow-pw")
	t.Logf("one bcrypt check takes %v", check)
	file := usersFile(t, "slow:"+h)
	t.Run("loop_stays_responsive", func(t *testing.T) {
		ts := startServer(t, serverConfig{loops: 1, opts: []ftp.Option{ftp.WithUsersFile(file, t.TempDir())}})
		staysResponsive(t, ts, "two bcrypt logins", func() string {
			c := dialClient(t, ts.addr)
			defer c.conn.Close()
			start := time.Now()
			for range 2 {
				c.steps(step{"USER slow", 331, ""}, step{"PASS slow-pw", 230, ""})
			}
			return fmt.Sprintf("logged in twice in %v", time.Since(start))
		})
	})
	t.Run("capped", func(t *testing.T) {
		ts := startServer(t, serverConfig{opts: []ftp.Option{ftp.WithUsersFile(file, t.TempDir()), ftp.WithMaxConcurrentLogins(1)}})
		var cs [2]*client
		for i := range cs {
			cs[i] = dialClient(t, ts.addr)
			cs[i].steps(step{"USER slow", 331, ""})
		}
		start := time.Now()
		for _, c := range cs {
			c.send("PASS slow-pw")
		}
		done := make(chan time.Duration, len(cs))
		for _, c := range cs {
			go func() {
				if code, _, err := c.readReply(); err != nil || code != 230 {
					t.Errorf("PASS: %d %v", code, err)
				}
				done <- time.Since(start)
			}()
		}
		first, last := <-done, <-done
		t.Logf("two concurrent logins: the first in %v, the second in %v", first, last)
		// One check at a time: the second starts when the first ends, so
		// it ends a check later. Half the time measured above is asked
		// for, in case the machine slowed that measure down.
		if last-first < check/2 {
			t.Fatalf("logins at %v and %v with checks of %v each: not one at a time", first, last, check)
		}
	})
}

// TestFailedLoginDelay: a failed login is answered 530 only after the
// delay, during which the session reads no further command, and the
// delay is a loop timer: other sessions of the same (single) loop go on.
func TestFailedLoginDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	ts := startServer(t, serverConfig{loops: 1, opts: []ftp.Option{ftp.WithLoginFailureDelay(delay)}})
	staysResponsive(t, ts, "a failed login", func() string {
		c := dialClient(t, ts.addr)
		defer c.conn.Close()
		c.steps(step{"USER " + testUser, 331, ""})
		start := time.Now()
		c.send("PASS wrong\r\nNOOP") // the NOOP waits for the 530
		c.expectReply(530)
		took := time.Since(start)
		c.expectReply(200)
		if took < delay {
			t.Fatalf("530 after %v, before the %v delay", took, delay)
		}
		return fmt.Sprintf("530 after %v", took)
	})
}
