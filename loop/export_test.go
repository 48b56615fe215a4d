package loop

import "golang.org/x/sys/unix"

// WithAcceptFunc replaces the accept system call of a listener, so tests can
// inject the errors a real system produces only under exhaustion (ENFILE,
// ENOBUFS). Test builds only.
func WithAcceptFunc(f func(fd int) (int, unix.Sockaddr, error)) Option {
	return Option{"WithAcceptFunc", scopeListen, func(s *settings) { s.accept = f }}
}
