//go:build netbsd && !gnet

package poller

import "golang.org/x/sys/unix"

// setUdata stores the registration's generation in the kevent's udata, which
// NetBSD declares as an integer rather than a pointer.
func setUdata(k *unix.Kevent_t, r *kreg) {
	k.Udata = int64(r.gen)
}

// sameRegistration reports whether event k was made for registration r.
func sameRegistration(k *unix.Kevent_t, r *kreg) bool {
	return k.Udata == int64(r.gen)
}
