package main

import "syscall"

// childAttr makes a child process die with its parent (PR_SET_PDEATHSIG,
// prctl(2)), so a killed server leaves no orphans serving the port.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
