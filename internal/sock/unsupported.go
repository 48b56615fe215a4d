//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

// reactor runs on Linux, macOS and the BSDs. Elsewhere (Windows, …) this
// package is empty, so that a build stops at poller/unsupported.go's clear
// message instead of a list of system calls missing here.

package sock
