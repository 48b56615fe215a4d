// Package fdlimit raises a server's open-files limit, so a server with many
// clients does not run out of descriptors before it runs out of anything
// else.
package fdlimit

import "syscall"

// Raise lifts the soft RLIMIT_NOFILE to the hard limit and returns both.
// (Go's runtime does this at start-up on most systems since Go 1.19; calling
// it again is harmless and makes the figures available to print.)
func Raise() (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return uint64(lim.Cur), uint64(lim.Max), err
		}
	}
	return uint64(lim.Cur), uint64(lim.Max), nil
}
