//go:build (netbsd || openbsd) && gnet && !poll_opt

// The gnet backend does not build on NetBSD and OpenBSD. There gnet v2.9.7
// wakes its kqueue poller through a pipe (poller_kqueue_wakeup1.go), but its
// default Polling recognises a wake-up only by ident 0, the EVFILT_USER
// event it uses on the other BSDs (poller_kqueue_default.go): the pipe's
// event goes to the callback instead, nothing drains it, and queued tasks
// never run. Wake, stop and the deferred close of gnet.go all ride on those
// tasks, so a program built this way would hang rather than fail; this file
// makes the build fail instead, with a message that says why. Build without
// the gnet tag to get the kqueue backend.

package poller

var _ = gnet_backend_cannot_wake_on_netbsd_or_openbsd_build_without_the_gnet_tag
