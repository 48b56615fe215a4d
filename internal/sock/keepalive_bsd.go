//go:build dragonfly || freebsd || netbsd

package sock

import "golang.org/x/sys/unix"

// TCPKeepIdle is the TCP option that holds the keep-alive idle time.
const TCPKeepIdle = unix.TCP_KEEPIDLE

// setKeepAlivePeriod sets the idle time and the probe interval.
func setKeepAlivePeriod(fd, secs int) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, TCPKeepIdle, secs); err != nil {
		return err
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
}
