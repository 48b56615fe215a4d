package sock

// TCPKeepIdle is -1: OpenBSD has no TCP option for the keep-alive idle
// time.
const TCPKeepIdle = -1

// setKeepAlivePeriod leaves the period to the kernel: OpenBSD has no
// per-socket keep-alive timing options (its net.inet.tcp.keepidle sysctl
// applies to all sockets), so only SO_KEEPALIVE takes effect there.
func setKeepAlivePeriod(fd, secs int) error { return nil }
