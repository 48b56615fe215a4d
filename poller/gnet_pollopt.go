//go:build gnet && poll_opt

// gnet's poll_opt build tag changes netpoll.Poller.Polling to take no
// callback and dispatch through attachments stored in the kernel events;
// the gnet backend (gnet.go) is written against the default Polling. This
// file makes such a build fail with a message instead of a list of missing
// names.

package poller

var _ = gnet_backend_needs_gnet_default_build_drop_the_poll_opt_tag
