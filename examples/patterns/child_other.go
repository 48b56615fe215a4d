//go:build !linux

package main

import "syscall"

// childAttr returns no attributes: only Linux has a parent-death signal.
// Elsewhere children notice their parent's end only through the signal
// the parent forwards on shutdown.
func childAttr() *syscall.SysProcAttr { return nil }
