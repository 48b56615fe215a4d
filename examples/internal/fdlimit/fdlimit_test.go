package fdlimit

import (
	"syscall"
	"testing"
)

func TestRaise(t *testing.T) {
	soft, hard, err := Raise()
	if err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if soft != hard || uint64(lim.Cur) != hard {
		t.Fatalf("soft %d, hard %d, now %d", soft, hard, lim.Cur)
	}
}
