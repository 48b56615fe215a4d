package ftp

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// account is a user who may log in: where they are rooted and what they
// may do. Immutable; shared by that user's sessions.
type account struct {
	name  string
	root  *os.Root // the user's "/"
	write bool
}

// plainUser is an account given with WithUser.
type plainUser struct {
	name, pass []byte
	acct       *account
}

// hashedUser is an account of the users file.
type hashedUser struct {
	hash []byte // bcrypt
	acct *account
}

// accounts holds every way to log in. Immutable after New; goroutine-safe.
type accounts struct {
	anon   *account // nil when anonymous access is off
	plain  []plainUser
	hashed map[string]hashedUser // nil without a users file
	roots  map[string]*os.Root   // every opened root by folder, to close them
}

// dummyHash is compared against when a users-file login names no such
// user, so that the reply takes as long as for a wrong password.
var dummyHash = []byte("$2a$10$VutAWcQ88IUJ9e2hl6O4t.dZZxqb0pQcKyvX5K4FuL4MrrqXl22Pa")

// openRoot returns the os.Root for folder dir, opening it once.
func (a *accounts) openRoot(dir string) (*os.Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: root %q: %w", ErrConfig, dir, err)
	}
	if r, ok := a.roots[abs]; ok {
		return r, nil
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("%w: root: %w", ErrConfig, err)
	}
	a.roots[abs] = r
	return r, nil
}

// newAccounts opens the roots of every configured account and reads the
// users file.
func newAccounts(cfg *config) (*accounts, error) {
	a := &accounts{roots: map[string]*os.Root{}}
	if cfg.anonRoot != "" {
		r, err := a.openRoot(cfg.anonRoot)
		if err != nil {
			return nil, a.closeWith(err)
		}
		a.anon = &account{name: "anonymous", root: r}
	}
	for _, u := range cfg.users {
		if u.name == "" {
			return nil, a.closeWith(fmt.Errorf("%w: a user without a name", ErrConfig))
		}
		r, err := a.openRoot(u.root)
		if err != nil {
			return nil, a.closeWith(err)
		}
		a.plain = append(a.plain, plainUser{[]byte(u.name), []byte(u.pass), &account{name: u.name, root: r, write: u.access == ReadWrite}})
	}
	if cfg.usersFile != "" {
		if err := a.readUsersFile(cfg.usersFile, cfg.usersFileRoot); err != nil {
			return nil, a.closeWith(err)
		}
	}
	return a, nil
}

// readUsersFile loads name:hash[:root[:ro|rw]] lines.
func (a *accounts) readUsersFile(path, defaultRoot string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: users file: %w", ErrConfig, err)
	}
	defer f.Close()
	a.hashed = map[string]hashedUser{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) < 2 || len(fields) > 4 || fields[0] == "" {
			return fmt.Errorf("%w: %s:%d: want name:bcrypt-hash[:root[:ro|rw]]", ErrConfig, path, n)
		}
		if _, err := bcrypt.Cost([]byte(fields[1])); err != nil {
			return fmt.Errorf("%w: %s:%d: %w", ErrConfig, path, n, err)
		}
		root, write := defaultRoot, true
		if len(fields) > 2 && fields[2] != "" {
			root = fields[2]
		}
		if len(fields) > 3 {
			switch fields[3] {
			case "ro":
				write = false
			case "rw", "":
			default:
				return fmt.Errorf("%w: %s:%d: access %q (want ro or rw)", ErrConfig, path, n, fields[3])
			}
		}
		if root == "" {
			return fmt.Errorf("%w: %s:%d: no root for %s", ErrConfig, path, n, fields[0])
		}
		r, err := a.openRoot(root)
		if err != nil {
			return err
		}
		a.hashed[fields[0]] = hashedUser{[]byte(fields[1]), &account{name: fields[0], root: r, write: write}}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: users file: %w", ErrConfig, err)
	}
	return nil
}

// quick checks the logins that need no bcrypt: anonymous and WithUser
// accounts. It returns the account, or slow true when a bcrypt check must
// decide (slowCheck, off the loop). Cheap enough for the loop.
func (a *accounts) quick(name, pass string) (acct *account, slow bool) {
	if a.anon != nil && (name == "anonymous" || name == "ftp") {
		return a.anon, false
	}
	for _, u := range a.plain {
		// Both compared in constant time, and both always compared.
		okName := subtle.ConstantTimeCompare(u.name, []byte(name))
		okPass := subtle.ConstantTimeCompare(u.pass, []byte(pass))
		if okName&okPass == 1 {
			return u.acct, false
		}
	}
	return nil, a.hashed != nil
}

// slowCheck checks name and pass against the users file with bcrypt (tens
// of milliseconds). Blocking: call it off the loop.
func (a *accounts) slowCheck(name, pass string) *account {
	u, ok := a.hashed[name]
	if !ok {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(pass))
		return nil
	}
	if err := bcrypt.CompareHashAndPassword(u.hash, []byte(pass)); err != nil {
		return nil
	}
	return u.acct
}

// close closes every root.
func (a *accounts) close() error {
	var errs []error
	for _, r := range a.roots {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

func (a *accounts) closeWith(err error) error {
	return errors.Join(err, a.close())
}
