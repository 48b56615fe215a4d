package cloudhash

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/reactorkit/reactor/codec"
	"github.com/reactorkit/reactor/loop"
)

// Default addresses and limits.
const (
	// DefaultLineAddr is the seed's port, serving the line protocol and
	// the EOF-framed one.
	DefaultLineAddr = "127.0.0.1:4481"
	// DefaultLengthAddr serves the length-prefixed protocol.
	DefaultLengthAddr = "127.0.0.1:4482"
	// DefaultRESPAddr serves RESP2 (one above Redis's 6379, so both can
	// run side by side).
	DefaultRESPAddr = "127.0.0.1:6380"

	// DefaultShards is the number of store shards, each with its own lock.
	DefaultShards = 256
	// DefaultMaxLine is the longest line the line protocol accepts, and
	// the longest inline command or RESP header line: Redis's 64 KiB.
	DefaultMaxLine = codec.DefaultMaxLine
	// DefaultMaxValue is the largest value (RESP bulk string, or
	// length-prefixed payload less its command and key) accepted.
	DefaultMaxValue = 16 << 20
	// DefaultMaxArgs is the most arguments one RESP command may have.
	DefaultMaxArgs = 1 << 20
	// DefaultExpiryInterval is how often each loop runs active expiry,
	// like Redis's hz 10.
	DefaultExpiryInterval = 100 * time.Millisecond
	// DefaultMaxReplyBatch is how many reply bytes one OnData gathers
	// before it writes them and goes on; most reads fit in one write.
	DefaultMaxReplyBatch = 1 << 20
	// replyHighWatermark is the outbound queue above which a connection
	// stops executing commands until the peer has read its replies; it is
	// also the high watermark the listeners are given (must match the
	// WithWriteWatermarks option in config.loopOptions), so that OnWritable
	// runs when the queue drains.
	replyHighWatermark = 1 << 20
)

// Option configures a Server or one of the protocols.
type Option func(*config)

// config is what the options set; immutable once a Server or protocol is
// built.
type config struct {
	lineAddr, lengthAddr, respAddr string
	maxMemory                      int64
	dataFile                       string
	password                       string
	shards                         int
	maxLine                        int
	maxValue                       int
	maxArgs                        int
	maxReplyBatch                  int
	expiryInterval                 time.Duration
	loopOpts                       []loop.Option
	logger                         *slog.Logger
	respTLS                        *tls.Config // serves the RESP listener over TLS when set

	// trace, when not nil, is told of each OnData ("data") and each
	// Write of replies ("write"); tests use it to count writes per read.
	trace func(event string)
}

// traced reports an I/O event to the test hook, if any.
func (cfg *config) traced(event string) {
	if cfg.trace != nil {
		cfg.trace(event)
	}
}

func newConfig(opts []Option) config {
	cfg := config{
		lineAddr:       DefaultLineAddr,
		lengthAddr:     DefaultLengthAddr,
		respAddr:       DefaultRESPAddr,
		shards:         DefaultShards,
		maxLine:        DefaultMaxLine,
		maxValue:       DefaultMaxValue,
		maxArgs:        DefaultMaxArgs,
		maxReplyBatch:  DefaultMaxReplyBatch,
		expiryInterval: DefaultExpiryInterval,
		logger:         slog.Default(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// maxInbound is the inbound limit of every listener: one request of the
// largest size, with room for its command, key and headers. A peer that
// holds more unconsumed bytes is cut off, as Redis's query buffer limit
// does.
func (cfg *config) maxInbound() int {
	return cfg.maxValue + 2*cfg.maxLine + 64<<10
}

// listenOptions are the loop options every listener gets.
func (cfg *config) listenOptions() []loop.Option {
	return []loop.Option{
		loop.WithMaxInbound(cfg.maxInbound()),
		loop.WithWriteWatermarks(replyHighWatermark, replyHighWatermark/4),
	}
}

// WithLineAddr sets the address of the line (and EOF-framed) listener;
// "" disables it. Default DefaultLineAddr.
func WithLineAddr(addr string) Option { return func(c *config) { c.lineAddr = addr } }

// WithLengthAddr sets the address of the length-prefixed listener; ""
// disables it. Default DefaultLengthAddr.
func WithLengthAddr(addr string) Option { return func(c *config) { c.lengthAddr = addr } }

// WithRESPAddr sets the address of the RESP2 listener; "" disables it.
// Default DefaultRESPAddr.
func WithRESPAddr(addr string) Option { return func(c *config) { c.respAddr = addr } }

// WithMaxMemory sets the estimated bytes of keys and values above which
// commands that may add data are refused with Redis's OOM error; reads and
// deletes still work. 0 (the default) means no limit.
func WithMaxMemory(n int64) Option { return func(c *config) { c.maxMemory = n } }

// WithDataFile sets the snapshot file: loaded at start, written by SAVE,
// BGSAVE, Server.Save and a graceful shutdown. "" (the default) keeps data
// in memory only.
func WithDataFile(path string) Option { return func(c *config) { c.dataFile = path } }

// WithPassword makes RESP clients authenticate (AUTH or HELLO AUTH) as the
// default user with this password before other commands. "" (the
// default): no password. The line and length-prefixed protocols have no
// authentication; bind them to loopback or disable them.
func WithPassword(pw string) Option { return func(c *config) { c.password = pw } }

// WithShards sets the number of store shards (rounded up to a power of
// two). Default DefaultShards.
func WithShards(n int) Option { return func(c *config) { c.shards = n } }

// WithMaxLine sets the longest line of the line protocol and the longest
// RESP inline command or header line. Default DefaultMaxLine.
func WithMaxLine(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxLine = n
		}
	}
}

// WithMaxValue sets the largest value accepted: a RESP bulk string, or a
// length-prefixed payload beyond its command and key. Default
// DefaultMaxValue.
func WithMaxValue(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxValue = n
		}
	}
}

// WithMaxArgs sets the most arguments of one RESP command. Default
// DefaultMaxArgs.
func WithMaxArgs(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxArgs = n
		}
	}
}

// WithMaxReplyBatch sets how many reply bytes one read's commands gather
// before they are written. Default DefaultMaxReplyBatch.
func WithMaxReplyBatch(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxReplyBatch = n
		}
	}
}

// WithExpiryInterval sets how often each event loop samples keys for
// active expiry; 0 or less turns active expiry off (keys still expire when
// touched). Default DefaultExpiryInterval.
func WithExpiryInterval(d time.Duration) Option { return func(c *config) { c.expiryInterval = d } }

// WithRESPTLS serves the RESP listener over TLS with cfg (its certificate
// and key), so `redis-cli --tls --cacert ca.pem` and TLS-configured Redis
// clients connect; a plaintext client on that port is closed and logged.
func WithRESPTLS(cfg *tls.Config) Option { return func(c *config) { c.respTLS = cfg } }

// WithLoopOptions passes options to the loop.Server a Server starts (the
// number of loops, timeouts, …). The listeners' inbound limit and write
// watermarks are CloudHash's own (from WithMaxValue and WithMaxLine), set
// per listener, so these cannot change them.
func WithLoopOptions(opts ...loop.Option) Option {
	return func(c *config) { c.loopOpts = append(c.loopOpts, opts...) }
}

// WithLogger sets the logger for saves and errors (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}
