// Package testtool holds what tests of several packages share.
//
// Path lets tests that drive an outside program (curl, lftp, redis-cli, …)
// find it, or skip when it is missing — unless the environment variable
// RequireEnv is set, as .ci/run sets it, and then a missing program fails
// the test instead, so CI never skips them. Pattern makes test payloads,
// and SyncBuffer captures what servers and loggers write while a test
// reads it.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the variable that makes missing outside programs fatal.
const RequireEnv = "REACTOR_REQUIRE_TOOLS"

// Path returns the path of the named program. When it is not installed the
// test is skipped with a message naming it and the package that provides it,
// or fails if RequireEnv is set.
func Path(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " is not installed (Debian package " + debianPackage + "); .ci/run installs it"
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s, and %s is set", msg, RequireEnv)
	}
	t.Skip(msg)
	return ""
}
