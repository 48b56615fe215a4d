//go:build (darwin || dragonfly || freebsd || openbsd) && !gnet

package poller

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// setUdata stores the registration's address in the kevent's udata. regs
// keeps the registration alive while the kernel holds the address.
func setUdata(k *unix.Kevent_t, r *kreg) {
	k.Udata = (*byte)(unsafe.Pointer(r))
}

// sameRegistration reports whether event k was made for registration r.
func sameRegistration(k *unix.Kevent_t, r *kreg) bool {
	return k.Udata == (*byte)(unsafe.Pointer(r))
}
