package loop

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/conn"
)

// LoadBalancing chooses the loop that serves each accepted connection of a
// listener shared by all loops.
type LoadBalancing int

const (
	// RoundRobin hands connections to the loops in turn.
	RoundRobin LoadBalancing = iota
	// LeastConnections hands each connection to the loop with the fewest
	// open connections.
	LeastConnections
)

// scope says where an option may be given.
type scope uint8

const (
	scopeServer scope = 1 << iota // NewServer (and ListenAndServe) only
	scopeListen                   // also Listen
	scopeDial                     // also Dial
)

func (s scope) String() string {
	switch s {
	case scopeServer:
		return "NewServer"
	case scopeListen:
		return "NewServer and Listen"
	case scopeDial:
		return "NewServer and Dial"
	}
	return "NewServer, Listen and Dial"
}

// Option configures a Server, a listener or a dial. Options given to
// NewServer are the defaults for its listeners and dials, which may override
// the connection and socket options; an option given where it has no meaning
// (WithLoops to Listen, say) makes that call fail with ErrOptionScope.
type Option struct {
	name  string
	scope scope // where it may be given besides NewServer
	apply func(*settings)
}

// settings is everything the options set.
type settings struct {
	// Server.
	loops          int
	readBufSize    int
	balance        LoadBalancing
	logger         *slog.Logger
	drainTimeout   time.Duration
	stallThreshold time.Duration

	// Listeners.
	reusePort bool
	reuseAddr bool

	// Sockets of listeners and dials.
	noDelay   bool
	keepAlive time.Duration
	rcvBuf    int
	sndBuf    int

	// Connections.
	conn conn.Config

	// Dials.
	connectTimeout time.Duration
	localAddr      *net.TCPAddr // the address dials bind to; nil: the kernel's choice

	// accept replaces the accept system call; tests inject faults with it.
	accept func(fd int) (int, unix.Sockaddr, error)
}

// Defaults of the settings not covered by conn.Config's own defaults.
const (
	DefaultReadBufferSize = 64 << 10
	DefaultKeepAlive      = 15 * time.Second // as Go's net
	DefaultConnectTimeout = 30 * time.Second
	DefaultDrainTimeout   = 30 * time.Second
	DefaultStallThreshold = 100 * time.Millisecond
)

func defaultSettings() settings {
	return settings{
		loops:          runtime.NumCPU(),
		readBufSize:    DefaultReadBufferSize,
		logger:         slog.Default(),
		drainTimeout:   DefaultDrainTimeout,
		stallThreshold: DefaultStallThreshold,
		reuseAddr:      true,
		noDelay:        true,
		keepAlive:      DefaultKeepAlive,
		connectTimeout: DefaultConnectTimeout,
	}
}

// with returns s with opts applied, failing on an option whose scope does
// not include where.
func (s settings) with(where scope, opts []Option) (settings, error) {
	for _, o := range opts {
		if where != scopeServer && o.scope&where == 0 {
			return s, fmt.Errorf("%w: %s may be given to %v only", ErrOptionScope, o.name, o.scope)
		}
		o.apply(&s)
	}
	return s, nil
}

const scopeSocket = scopeListen | scopeDial

// WithLoops sets the number of event loops (default runtime.NumCPU()).
func WithLoops(n int) Option {
	return Option{"WithLoops", scopeServer, func(s *settings) {
		if n > 0 {
			s.loops = n
		}
	}}
}

// WithReadBufferSize sets the size of each loop's shared read buffer
// (default 64 KiB): the most one read takes from a socket.
func WithReadBufferSize(n int) Option {
	return Option{"WithReadBufferSize", scopeServer, func(s *settings) {
		if n > 0 {
			s.readBufSize = n
		}
	}}
}

// WithLoadBalancing chooses how a shared listener spreads its connections
// over the loops (default RoundRobin).
func WithLoadBalancing(lb LoadBalancing) Option {
	return Option{"WithLoadBalancing", scopeServer, func(s *settings) { s.balance = lb }}
}

// WithLogger sets the logger for errors the loops cannot return to a caller
// (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return Option{"WithLogger", scopeServer, func(s *settings) {
		if l != nil {
			s.logger = l
		}
	}}
}

// WithDrainTimeout sets how long ListenAndServe lets connections drain after
// its context is done (default 30 s).
func WithDrainTimeout(d time.Duration) Option {
	return Option{"WithDrainTimeout", scopeServer, func(s *settings) { s.drainTimeout = d }}
}

// WithStallThreshold sets how long one callback (or one wake-up's tasks and
// timers) may hold its loop before it is logged as a stall, with the
// protocol's type and the time it took; a watchdog also logs a loop that is
// still blocked. Default 100 ms; 0 turns both off, and with them the busy
// and longest-callback statistics, which cost two clock reads per event.
func WithStallThreshold(d time.Duration) Option {
	return Option{"WithStallThreshold", scopeServer, func(s *settings) { s.stallThreshold = d }}
}

// WithReusePort gives each loop its own listening socket bound with
// SO_REUSEPORT to the first socket's port, so the kernel spreads connections
// and no loop hands them to another. Default off: one socket, spread by
// WithLoadBalancing.
func WithReusePort(on bool) Option {
	return Option{"WithReusePort", scopeListen, func(s *settings) { s.reusePort = on }}
}

// WithReuseAddr sets SO_REUSEADDR on listening sockets (default on), so a
// restarted server can bind while old connections sit in TIME_WAIT.
func WithReuseAddr(on bool) Option {
	return Option{"WithReuseAddr", scopeListen, func(s *settings) { s.reuseAddr = on }}
}

// WithNoDelay sets TCP_NODELAY on connections (default on).
func WithNoDelay(on bool) Option {
	return Option{"WithNoDelay", scopeSocket, func(s *settings) { s.noDelay = on }}
}

// WithKeepAlive sets the TCP keep-alive period of connections (default
// 15 s, as Go's net); 0 or less turns keep-alive off.
func WithKeepAlive(d time.Duration) Option {
	return Option{"WithKeepAlive", scopeSocket, func(s *settings) { s.keepAlive = d }}
}

// WithSocketBuffers sets SO_RCVBUF and SO_SNDBUF of connections; 0 leaves
// the kernel's default (and its autotuning).
func WithSocketBuffers(read, write int) Option {
	return Option{"WithSocketBuffers", scopeSocket, func(s *settings) { s.rcvBuf, s.sndBuf = read, write }}
}

// WithMaxInbound sets the most unconsumed inbound bytes a connection may hold
// (default 16 MiB); a peer that sends more is closed with ErrInboundLimit.
func WithMaxInbound(n int) Option {
	return Option{"WithMaxInbound", scopeSocket, func(s *settings) { s.conn.MaxInbound = n }}
}

// WithWriteWatermarks sets the outbound high and low watermarks (default
// 1 MiB and a quarter of high). Above high a connection stops reading; at
// low it resumes and OnWritable runs.
func WithWriteWatermarks(high, low int) Option {
	return Option{"WithWriteWatermarks", scopeSocket, func(s *settings) {
		s.conn.WriteHighWatermark, s.conn.WriteLowWatermark = high, low
	}}
}

// WithAsyncWriteLimit caps the bytes AsyncWrite may have waiting per
// connection, queued included (default 64 MiB).
func WithAsyncWriteLimit(n int) Option {
	return Option{"WithAsyncWriteLimit", scopeSocket, func(s *settings) { s.conn.AsyncWriteLimit = n }}
}

// WithIdleTimeout closes connections that move no bytes either way for d
// (default: never).
func WithIdleTimeout(d time.Duration) Option {
	return Option{"WithIdleTimeout", scopeSocket, func(s *settings) { s.conn.IdleTimeout = d }}
}

// WithReadTimeout closes connections whose incomplete frame (unconsumed
// inbound bytes) waits longer than d (default: never).
func WithReadTimeout(d time.Duration) Option {
	return Option{"WithReadTimeout", scopeSocket, func(s *settings) { s.conn.ReadTimeout = d }}
}

// WithWriteTimeout closes connections whose queued bytes make no progress
// for d (default 60 s); negative disables it.
func WithWriteTimeout(d time.Duration) Option {
	return Option{"WithWriteTimeout", scopeSocket, func(s *settings) { s.conn.WriteTimeout = d }}
}

// WithHalfCloseTimeout closes connections still open d after the peer's FIN
// (default 30 s); negative disables it.
func WithHalfCloseTimeout(d time.Duration) Option {
	return Option{"WithHalfCloseTimeout", scopeSocket, func(s *settings) { s.conn.HalfCloseTimeout = d }}
}

// WithPoisonReadBuffer overwrites each loop's shared read buffer after every
// OnData, so a protocol that keeps a borrowed slice fails loudly in tests.
func WithPoisonReadBuffer(on bool) Option {
	return Option{"WithPoisonReadBuffer", scopeSocket, func(s *settings) { s.conn.PoisonReadBuffer = on }}
}

// WithTLS serves a listener's connections over TLS with cfg (its
// certificates, ALPN protocols, client authentication), or makes a dial a
// TLS client (cfg.ServerName defaults to the host dialed). The handshake
// runs without blocking the loop; OnOpen runs after it, and a peer that
// fails it (a plaintext client, a wrong certificate) is closed and logged.
//
// Renegotiation is refused: a crypto/tls server never renegotiates, and a
// dial uses a copy of cfg with Renegotiation set to tls.RenegotiateNever,
// whatever cfg says, because a renegotiation would run a handshake inside a
// read on the loop. A peer that asks for one (a client's new ClientHello, a
// server's HelloRequest) gets an alert, and its connection closes with an
// error.
func WithTLS(cfg *tls.Config) Option {
	return Option{"WithTLS", scopeSocket, func(s *settings) { s.conn.TLS = cfg }}
}

// WithHandshakeTimeout bounds a TLS handshake (default 10 s): a peer that
// stalls in it is closed with conn.ErrHandshakeTimeout.
func WithHandshakeTimeout(d time.Duration) Option {
	return Option{"WithHandshakeTimeout", scopeSocket, func(s *settings) { s.conn.HandshakeTimeout = d }}
}

// WithLocalAddr makes TCP dials leave from addr (its port 0 lets the kernel
// pick one), as FTP's active mode does from the control connection's local
// address on a host with several.
func WithLocalAddr(addr *net.TCPAddr) Option {
	return Option{"WithLocalAddr", scopeDial, func(s *settings) { s.localAddr = addr }}
}

// WithConnectTimeout bounds how long a dial may take (default 30 s).
func WithConnectTimeout(d time.Duration) Option {
	return Option{"WithConnectTimeout", scopeDial, func(s *settings) { s.connectTimeout = d }}
}
