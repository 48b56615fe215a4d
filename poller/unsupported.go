//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

// reactor runs on epoll (Linux) and kqueue (the BSDs and macOS). Windows and
// the other systems are not targets: this file makes their builds stop with a
// message that says so instead of a list of missing syscalls.

package poller

var _ = reactor_runs_on_Linux_macOS_and_the_BSDs_only_this_platform_is_not_supported
