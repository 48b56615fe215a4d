package ftp

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"time"
)

// Defaults of the limits, each the value vsftpd or pyftpdlib ship with
// unless noted.
const (
	DefaultMaxSessions       = 1000
	DefaultIdleTimeout       = 5 * time.Minute  // vsftpd idle_session_timeout
	DefaultDataAcceptTimeout = 30 * time.Second // pyftpdlib PassiveDTP/ActiveDTP timeout
	DefaultStallTimeout      = 5 * time.Minute  // vsftpd data_connection_timeout
	DefaultMaxLineLength     = 4096             // vsftpd VSFTP_MAX_COMMAND_LINE
	DefaultMaxLoginFailures  = 3                // vsftpd max_login_fails
	DefaultLoginFailureDelay = time.Second      // vsftpd delay_failed_login
	DefaultBanner            = "reactor FTP server ready."
	defaultDiskWorkersPerCPU = 8
	minDiskWorkers           = 8
)

// Access is what a user may do below their root folder.
type Access uint8

const (
	// ReadOnly lets the user list and download.
	ReadOnly Access = iota
	// ReadWrite also lets the user upload, rename, delete and make
	// folders.
	ReadWrite
)

// Option configures a Server.
type Option func(*config)

// config is what the options set; immutable once New returns.
type config struct {
	anonRoot      string // "" when anonymous access is off
	users         []userSpec
	usersFile     string
	usersFileRoot string

	maxSessions int
	maxPerIP    int
	idle        time.Duration
	accept      time.Duration
	stall       time.Duration
	maxLine     int
	pasvLo      int
	pasvHi      int
	publicIP    netip.Addr
	logger      *slog.Logger
	xferLog     *slog.Logger
	maxFailures int
	failDelay   time.Duration
	banner      string
	diskWorkers int
	authWorkers int

	shutdownGrace time.Duration

	// folderDelay is for tests only (set through export_test.go): each
	// folder a disk worker opens to list first waits this long, as on a
	// cold disk, so that a listing done on the loop by mistake would stall
	// it visibly.
	folderDelay time.Duration

	tls          *tls.Config   // AUTH TLS is served when set; the caller's, cloned by New
	requireTLS   bool          // no login before AUTH TLS, no transfer before PROT P
	requireReuse bool          // TLS data connections must resume the control's session
	tlsHandshake time.Duration // TLS handshake timeout (conn.Upgrade.Timeout); 0: the connection's
}

// userSpec is one account given with WithUser.
type userSpec struct {
	name, pass, root string
	access           Access
}

func defaultConfig() config {
	return config{
		maxSessions: DefaultMaxSessions,
		idle:        DefaultIdleTimeout,
		accept:      DefaultDataAcceptTimeout,
		stall:       DefaultStallTimeout,
		maxLine:     DefaultMaxLineLength,
		logger:      slog.Default(),
		maxFailures: DefaultMaxLoginFailures,
		failDelay:   DefaultLoginFailureDelay,
		banner:      DefaultBanner,
		diskWorkers: max(minDiskWorkers, defaultDiskWorkersPerCPU*runtime.GOMAXPROCS(0)),
		authWorkers: max(1, runtime.GOMAXPROCS(0)),
	}
}

func (c *config) validate() error {
	switch {
	case c.anonRoot == "" && len(c.users) == 0 && c.usersFile == "":
		return fmt.Errorf("%w: no anonymous root, user or users file", ErrConfig)
	case c.pasvLo != 0 && (c.pasvLo < 1024 || c.pasvHi > 65535 || c.pasvLo > c.pasvHi):
		return fmt.Errorf("%w: passive ports %d-%d (want 1024 <= low <= high <= 65535)", ErrConfig, c.pasvLo, c.pasvHi)
	case c.maxLine < 64:
		return fmt.Errorf("%w: max line length %d is below 64", ErrConfig, c.maxLine)
	case c.tls == nil && (c.requireTLS || c.requireReuse):
		return fmt.Errorf("%w: TLS required but no WithTLS configuration", ErrConfig)
	case c.tls != nil && len(c.tls.Certificates) == 0 && c.tls.GetCertificate == nil && c.tls.GetConfigForClient == nil:
		return fmt.Errorf("%w: the TLS configuration has no certificate", ErrConfig)
	case c.requireReuse && c.tls.SessionTicketsDisabled:
		return fmt.Errorf("%w: TLS session reuse required but session tickets are disabled", ErrConfig)
	}
	return nil
}

// WithAnonymous serves root read-only to the users "anonymous" and "ftp",
// whatever password they give (RFC 1635).
func WithAnonymous(root string) Option {
	return func(c *config) { c.anonRoot = root }
}

// WithUser adds an account whose password is compared in constant time.
func WithUser(name, password, root string, access Access) Option {
	return func(c *config) { c.users = append(c.users, userSpec{name, password, root, access}) }
}

// WithUsersFile reads accounts from path, one per line:
//
//	name:bcrypt-hash[:root[:ro|rw]]
//
// The hash is bcrypt's ($2a$, $2b$ or $2y$, as `htpasswd -nB name` prints);
// root defaults to defaultRoot and access to rw. Blank lines and lines
// starting with # are skipped. The file is read by New.
func WithUsersFile(path, defaultRoot string) Option {
	return func(c *config) { c.usersFile, c.usersFileRoot = path, defaultRoot }
}

// WithMaxSessions caps the control connections served at once (default
// 1000); the next one gets 421 and is closed. n <= 0 removes the cap.
func WithMaxSessions(n int) Option { return func(c *config) { c.maxSessions = n } }

// WithMaxSessionsPerIP caps the control connections from one address
// (default 0: no cap, as vsftpd's max_per_ip); the next one gets 421.
func WithMaxSessionsPerIP(n int) Option { return func(c *config) { c.maxPerIP = n } }

// WithIdleTimeout closes a control connection that sent no command for d
// while no data connection was open, after a 421 reply (default 5 min). 0
// disables it.
func WithIdleTimeout(d time.Duration) Option { return func(c *config) { c.idle = d } }

// WithDataAcceptTimeout bounds how long a passive port waits for the
// client's connection and an active (PORT, EPRT) connection may take
// (default 30 s).
func WithDataAcceptTimeout(d time.Duration) Option { return func(c *config) { c.accept = d } }

// WithStallTimeout closes a data connection that moved no bytes for d
// (default 5 min); a transfer on it fails with 426.
func WithStallTimeout(d time.Duration) Option { return func(c *config) { c.stall = d } }

// WithMaxLineLength sets the longest command line accepted (default 4096
// bytes); a longer one is answered 500 and skipped without being buffered.
func WithMaxLineLength(n int) Option { return func(c *config) { c.maxLine = n } }

// WithPassivePorts makes PASV and EPSV listen on a port in [lo, hi] (both
// 1024 or above) instead of one the kernel picks; when all are busy the
// command fails with 425.
func WithPassivePorts(lo, hi int) Option { return func(c *config) { c.pasvLo, c.pasvHi = lo, hi } }

// WithPublicIP sets the IPv4 address PASV replies announce, for a server
// behind NAT; by default it is the control connection's local address.
func WithPublicIP(ip netip.Addr) Option { return func(c *config) { c.publicIP = ip.Unmap() } }

// WithLogger sets the logger for sessions and errors (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithTransferLog sets the logger that records every upload and download
// (default: the WithLogger logger).
func WithTransferLog(l *slog.Logger) Option { return func(c *config) { c.xferLog = l } }

// WithMaxLoginFailures closes a session after n failed logins (default 3).
func WithMaxLoginFailures(n int) Option { return func(c *config) { c.maxFailures = n } }

// WithLoginFailureDelay delays the reply to a failed login by d (default
// 1 s), on a loop timer.
func WithLoginFailureDelay(d time.Duration) Option { return func(c *config) { c.failDelay = d } }

// WithBanner sets the text of the 220 greeting.
func WithBanner(s string) Option { return func(c *config) { c.banner = safe(s) } }

// WithDiskWorkers sets how many goroutines do file-system work for all
// sessions (default 8 per CPU, at least 8).
func WithDiskWorkers(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.diskWorkers = n
		}
	}
}

// WithMaxConcurrentLogins caps the bcrypt checks running at once (default
// one per CPU); further logins wait their turn.
func WithMaxConcurrentLogins(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.authWorkers = n
		}
	}
}

// WithShutdownGrace bounds how long a transfer running when the server
// shuts down may go on: after d it fails with 426 and its session gets 421.
// By default (0) it runs to its end, within the deadline the loop.Server's
// Shutdown was given (past that deadline connections are reset). Set it
// below that deadline so clients are told why their transfer stopped.
func WithShutdownGrace(d time.Duration) Option { return func(c *config) { c.shutdownGrace = d } }

// WithTLS enables explicit FTPS (RFC 4217): AUTH TLS (or SSL) upgrades the
// control connection with cfg, and after PBSZ 0 and PROT P, data
// connections are TLS too, the server taking the TLS server's role on them
// in passive and active mode alike (RFC 4217 §7).
// The server keeps its own copy of cfg. Leave session tickets on (Go's
// default): clients such as curl and lftp resume the control connection's
// session on data connections, which makes their handshakes cheap; the
// server only resumes sessions its control connection issued. Bound the
// handshakes with WithTLSHandshakeTimeout.
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) {
		if cfg != nil {
			cfg = cfg.Clone()
		}
		c.tls = cfg
	}
}

// WithRequireTLS refuses logins before AUTH TLS (530) and transfers
// without PROT P (522), as vsftpd's force_local_logins_ssl,
// force_anon_logins_ssl and force_*_data_ssl do. It needs WithTLS.
func WithRequireTLS(on bool) Option { return func(c *config) { c.requireTLS = on } }

// WithRequireTLSReuse makes a TLS data connection that does not resume the
// control connection's TLS session fail with 522, as vsftpd's
// require_ssl_reuse does: proof that the data connection comes from the
// client that logged in. Off by default, because some clients (Python's
// ftplib) never reuse sessions. It needs WithTLS and session tickets.
func WithRequireTLSReuse(on bool) Option { return func(c *config) { c.requireReuse = on } }

// WithTLSHandshakeTimeout bounds each TLS handshake: the control
// connection's after AUTH TLS (the connection closes after d) and every
// data connection's (the transfer fails with 522). By default (0) the
// control connection takes the listener's loop.WithHandshakeTimeout and
// data connections conn.DefaultHandshakeTimeout.
func WithTLSHandshakeTimeout(d time.Duration) Option { return func(c *config) { c.tlsHandshake = d } }
