package ftp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

// Server is the FTP protocol: give it to loop.Server.Listen (or
// loop.ListenAndServe) as the Protocol of the control port. One Server may
// serve several listeners and loops; each control connection gets a session
// on its loop, and the session's data connections live on that same loop.
//
// Its exported methods are goroutine-safe; the Protocol callbacks are called
// by the loops.
type Server struct {
	cfg   config    // immutable
	accts *accounts // immutable
	cmds  cmdTable  // immutable
	xlog  interface {
		Info(msg string, args ...any)
	} // the transfer log; immutable
	disk *workers // file-system work
	auth *workers // bcrypt checks

	sessions atomic.Int64 // open control connections

	mu    sync.Mutex
	perIP map[netip.Addr]int // open control connections by client address; guarded by mu

	closeOnce sync.Once
	closeErr  error
}

var (
	_ loop.Protocol        = (*Server)(nil)
	_ loop.ShutdownHandler = (*Server)(nil)
)

// New makes a Server. It opens the root folders (os.OpenRoot) and reads the
// users file; Close releases them and stops the worker goroutines.
func New(opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	accts, err := newAccounts(&cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		accts: accts,
		cmds:  newCmdTable(),
		xlog:  cfg.logger,
		disk:  newWorkers(cfg.diskWorkers, cfg.logger),
		auth:  newWorkers(cfg.authWorkers, cfg.logger),
		perIP: map[netip.Addr]int{},
	}
	if cfg.xferLog != nil {
		s.xlog = cfg.xferLog
	}
	return s, nil
}

// Close stops the worker goroutines, after the jobs already queued, and
// closes the root folders. Call it once the loop.Server serving s has shut
// down. Later calls return the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.disk.close()
		s.auth.close()
		s.closeErr = s.accts.close()
	})
	return s.closeErr
}

// Sessions returns the number of open control connections.
func (s *Server) Sessions() int { return int(s.sessions.Load()) }

// OnOpen implements loop.Protocol: it admits a control connection within
// the session limits and greets it with 220, or answers 421 and closes it.
func (s *Server) OnOpen(c *conn.Conn) {
	ip := addrIP(c.RemoteAddr())
	if msg := s.admit(ip); msg != "" {
		c.Write([]byte("421 " + msg + "\r\n"))
		c.Close()
		return
	}
	sess := newSession(s, c, ip)
	c.SetContext(sess)
	sess.open()
}

// admit counts a new session from ip, or returns why it is refused.
func (s *Server) admit(ip netip.Addr) string {
	if n := s.sessions.Add(1); s.cfg.maxSessions > 0 && n > int64(s.cfg.maxSessions) {
		s.sessions.Add(-1)
		return "There are too many connected users, please try later."
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.maxPerIP > 0 && s.perIP[ip] >= s.cfg.maxPerIP {
		s.sessions.Add(-1)
		return "There are too many connections from your internet address."
	}
	s.perIP[ip]++
	return ""
}

// release undoes admit when a session ends.
func (s *Server) release(ip netip.Addr) {
	s.sessions.Add(-1)
	s.mu.Lock()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
	s.mu.Unlock()
}

// OnData implements loop.Protocol: it runs the complete command lines.
func (s *Server) OnData(c *conn.Conn) {
	if sess, ok := c.Context().(*session); ok {
		sess.onData()
		return
	}
	c.Discard(0)
}

// OnWritable implements loop.Protocol; the control connection needs
// nothing from it.
func (s *Server) OnWritable(*conn.Conn) {}

// OnClose implements loop.Protocol: the session ends, and with it its data
// connections and transfers.
func (s *Server) OnClose(c *conn.Conn, err error) {
	if sess, ok := c.Context().(*session); ok {
		sess.onClose(err)
	}
}

// OnShutdown implements loop.ShutdownHandler: each session is told 421 and
// closed, at once when idle, or after the transfer it is running (see
// WithShutdownGrace).
func (s *Server) OnShutdown(c *conn.Conn) {
	if sess, ok := c.Context().(*session); ok {
		sess.shutdown()
	}
}

// addrIP returns the IP of a TCP address, IPv4-mapped IPv6 unmapped.
func addrIP(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(t.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// errReply is the error text a failed file-system call shows the client,
// without the server's paths.
func errReply(err error) string {
	switch {
	case errors.Is(err, errEscapes):
		return "Permission denied."
	case errors.Is(err, errNotRegular):
		return "Not a regular file."
	case errors.Is(err, errNotDir):
		return "Not a directory."
	case errors.Is(err, errIsDir):
		return "Is a directory."
	case errors.Is(err, errNotEmpty):
		return "Directory not empty."
	case errors.Is(err, errNoSpace):
		return "No space left on device."
	case errors.Is(err, errExist):
		return "File exists."
	case errors.Is(err, errNotExist):
		return "No such file or directory."
	case errors.Is(err, errPermission):
		return "Permission denied."
	}
	return "Operation failed."
}
