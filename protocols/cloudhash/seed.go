package cloudhash

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/reactorkit/reactor/codec"
	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

// The seed's protocols: GET key and SET key value, answered with the value
// (empty for a missing key), on three framings. Each answer is built in a
// reply buffer borrowed from the protocol's pool for one OnData, and all the
// answers of one read leave in one Write.

// framing is how an answer is delimited on the wire.
type framing uint8

const (
	lineFraming   framing = iota // the value, then LF
	eofFraming                   // the value alone; the connection then closes
	lengthFraming                // 4-byte LE signed length, then the value
)

// The texts of the seed protocols' error answers. On the line and
// EOF-framed protocols an error is a line starting with an error code
// (ERR, OOM) as in Redis; on the length-prefixed one it is a frame whose
// length header is negative (minus the text's length), so no value can be
// mistaken for an error.
const (
	seedErrOOM      = "OOM command not allowed when used memory > 'maxmemory'."
	seedErrBinary   = "ERR binary data is not a line-protocol command"
	seedErrTooLong  = "ERR line too long"
	seedErrNewline  = "ERR the value holds a newline; read it on the length-prefixed port"
	seedErrGetArgs  = "ERR wrong number of arguments: GET key"
	seedErrSetArgs  = "ERR wrong number of arguments: SET key value"
	seedErrTooLarge = "ERR frame too large"
	seedErrNegative = "ERR negative frame length"
)

// replyBuf is a reply buffer lent to one OnData. Buffers that grew past
// keepReplyBuf are dropped rather than pooled.
type replyBuf struct{ b []byte }

const keepReplyBuf = 64 << 10

// seedCore is what the line and length-prefixed protocols share: the store
// and the reply buffers. Goroutine-safe.
type seedCore struct {
	st   *Store  // immutable
	cfg  *config // immutable
	bufs sync.Pool
}

func (sc *seedCore) getBuf() *replyBuf {
	if rb, ok := sc.bufs.Get().(*replyBuf); ok {
		return rb
	}
	return &replyBuf{b: make([]byte, 0, 4096)}
}

func (sc *seedCore) putBuf(rb *replyBuf) {
	if cap(rb.b) <= keepReplyBuf {
		rb.b = rb.b[:0]
		sc.bufs.Put(rb)
	}
}

// seedAction is what the connection does after an answer.
type seedAction uint8

const (
	keepOpen   seedAction = iota // go on with the next request
	needMore                     // the next request is incomplete
	closeConn                    // answer what is gathered, then close
	rejectConn                   // bad input: answer, then lingerClose
)

// lingerTimeout bounds how long a connection rejected for bad input keeps
// reading (and discarding) after its error answer; see lingerClose.
const lingerTimeout = 2 * time.Second

// lingering marks, as a connection's context, a seed-protocol connection
// that lingerClose is closing.
type lingering struct{}

// lingerClose ends a connection whose peer sent bad input, after its error
// answer has been written: it half-closes (the peer reads the answer, then
// EOF), discards whatever else arrives, and closes when the peer closes or
// after lingerTimeout. Closing at once while the peer is still sending
// would make the kernel reset the connection, and a reset can destroy the
// error answer before the peer reads it (RFC 1122 4.2.2.13; the "lingering
// close" of HTTP servers).
func lingerClose(c *conn.Conn) {
	c.CloseWrite()
	c.AfterFunc(lingerTimeout, func() { c.Close() })
}

// drainLingering discards the input of a connection being closed by
// lingerClose, and closes it at the peer's FIN.
func drainLingering(c *conn.Conn) {
	c.Discard(0)
	if c.PeerClosed() {
		c.Close()
	}
}

// serve runs step over the connection's inbound bytes until they hold no
// complete request, gathering the answers in one buffer written once (or
// once per maxReplyBatch bytes). When the written answers pile up past the
// high watermark it stops, leaving requests unconsumed, and OnWritable
// calls it again once the peer has read. At the peer's FIN, eof (if not
// nil) answers an unterminated rest; then the connection closes.
func (sc *seedCore) serve(c *conn.Conn, step func(out, in []byte, now int64) ([]byte, int, seedAction), eof func(out, rest []byte, now int64) []byte) {
	if c.Context() != nil {
		drainLingering(c)
		return
	}
	sc.cfg.traced("data")
	in, _ := c.Peek(0)
	rb := sc.getBuf()
	out := rb.b
	now := nowMillis()
	act, stalled := keepOpen, false
	off := 0
	for off < len(in) {
		var n int
		out, n, act = step(out, in[off:], now)
		off += n
		if act != keepOpen {
			break
		}
		if len(out) >= sc.cfg.maxReplyBatch {
			sc.cfg.traced("write")
			c.Write(out)
			out = out[:0]
			if c.OutboundLen() > replyHighWatermark {
				stalled = true
				break
			}
		}
	}
	if act == needMore {
		act = keepOpen
	}
	if act == keepOpen && !stalled && c.PeerClosed() && off < len(in) && eof != nil {
		out = eof(out, in[off:], now)
		act = closeConn
	}
	done := act == closeConn || act == rejectConn || (!stalled && c.PeerClosed())
	if done {
		c.Discard(0)
	} else {
		consume(c, off)
	}
	if len(out) > 0 {
		sc.cfg.traced("write")
		c.Write(out)
	}
	rb.b = out
	sc.putBuf(rb)
	switch {
	case act == rejectConn && !c.PeerClosed():
		c.SetContext(lingering{})
		lingerClose(c)
	case done:
		c.Close()
	}
}

// exec runs one seed command (cmd, key, val; hasVal says whether a value
// was given) and appends its answer to out in framing f.
func (sc *seedCore) exec(out, cmd, key, val []byte, hasVal bool, f framing, now int64) ([]byte, seedAction) {
	switch {
	case asciiEqualFold(cmd, "GET"):
		if len(key) == 0 || hasVal {
			return appendSeedError(out, seedErrGetArgs, f), keepOpen
		}
		start := len(out)
		if f == lengthFraming {
			out = append(out, 0, 0, 0, 0)
		}
		out, _ = sc.st.AppendGet(out, key, now)
		return finishSeedAnswer(out, start, f), keepOpen
	case asciiEqualFold(cmd, "SET"):
		if len(key) == 0 || !hasVal {
			return appendSeedError(out, seedErrSetArgs, f), keepOpen
		}
		if sc.st.OverMemory() {
			return appendSeedError(out, seedErrOOM, f), keepOpen
		}
		sc.st.Set(key, val, 0, false, SetAlways, now)
		return appendSeedValue(out, val, f), keepOpen
	case asciiEqualFold(cmd, "EXIT"), asciiEqualFold(cmd, "QUIT"):
		return out, closeConn
	}
	return appendSeedError(out, "ERR unknown command '"+printable(cmd)+"'", f), keepOpen
}

// appendSeedValue appends val as an answer in framing f.
func appendSeedValue(out, val []byte, f framing) []byte {
	start := len(out)
	if f == lengthFraming {
		out = append(out, 0, 0, 0, 0)
	}
	out = append(out, val...)
	return finishSeedAnswer(out, start, f)
}

// finishSeedAnswer completes the answer that starts at out[start:]: it
// fills in the length header, or ends the line (turning a value that holds
// a newline into an error, since the line would split).
func finishSeedAnswer(out []byte, start int, f framing) []byte {
	switch f {
	case lengthFraming:
		binary.LittleEndian.PutUint32(out[start:], uint32(len(out)-start-4))
	case lineFraming:
		if bytes.IndexByte(out[start:], '\n') >= 0 {
			return appendSeedError(out[:start], seedErrNewline, f)
		}
		out = append(out, '\n')
	}
	return out
}

// appendSeedError appends the error text msg in framing f.
func appendSeedError(out []byte, msg string, f framing) []byte {
	switch f {
	case lengthFraming:
		n := int32(len(msg))
		out = binary.LittleEndian.AppendUint32(out, uint32(-n))
		return append(out, msg...)
	case lineFraming:
		return append(append(out, msg...), '\n')
	}
	return append(out, msg...)
}

// printable returns b for an error text, at most 64 bytes, with bytes
// outside printable ASCII as '?'.
func printable(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	s := []byte(string(b))
	for i, c := range s {
		if c < 0x20 || c > 0x7e {
			s[i] = '?'
		}
	}
	return string(s)
}

// asciiEqualFold reports whether b equals upper, an upper-case ASCII word,
// ignoring case.
func asciiEqualFold(b []byte, upper string) bool {
	if len(b) != len(upper) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// LineProtocol serves the seed's newline-framed protocol, and its
// EOF-framed one on the same port:
//
//	GET key\n        → value\n (an empty line for a missing key)
//	SET key value\n  → value\n (the value is the rest of the line)
//	exit\n           → the connection closes
//
// LF or CR LF ends a line; commands are case-insensitive; blank lines are
// ignored. A malformed command gets an error line ("ERR …") and the
// connection stays usable; binary bytes or a line longer than the limit get
// an error line and the connection closes.
//
// EOF framing: a request the peer leaves unterminated when it half-closes
// (the seed's first client: write, close_write, read to EOF) is answered
// with the bare value, no newline, and the connection closes.
//
// A session has no state of its own beyond its unconsumed bytes:
//
//	   complete line: answer it
//	  ┌────────┐
//	  ▼        │
//	open ──────┘── exit, binary bytes, over-long line ──► closing
//	  │
//	  └── peer FIN: answer the lines, then the unterminated rest
//	      (EOF framing) ──────────────────────────────► closing
//
// closing flushes the answers and closes. Goroutine-safe: one value serves
// every connection of its listener.
type LineProtocol struct {
	loop.BaseProtocol
	core  seedCore   // goroutine-safe
	codec codec.Line // immutable
}

var _ loop.Protocol = (*LineProtocol)(nil)

// NewLineProtocol returns the line protocol over st. Of opts, WithMaxLine
// applies.
func NewLineProtocol(st *Store, opts ...Option) *LineProtocol {
	cfg := newConfig(opts)
	return newLine(st, &cfg)
}

func newLine(st *Store, cfg *config) *LineProtocol {
	return &LineProtocol{core: seedCore{st: st, cfg: cfg}, codec: codec.Line{MaxLen: cfg.maxLine}}
}

// OnData answers every complete line, and on the peer's FIN the
// unterminated rest, in one Write. Runs on the connection's loop.
func (p *LineProtocol) OnData(c *conn.Conn) { p.core.serve(c, p.step, p.eof) }

// OnWritable goes on with the lines left unanswered while the peer was
// not reading its answers. Runs on the connection's loop.
func (p *LineProtocol) OnWritable(c *conn.Conn) { p.core.serve(c, p.step, p.eof) }

// step answers the first line of in.
func (p *LineProtocol) step(out, in []byte, now int64) ([]byte, int, seedAction) {
	line, n, err := p.codec.Decode(in)
	if errors.Is(err, codec.ErrNeedMore) {
		return out, 0, needMore
	}
	if err != nil {
		return appendSeedError(out, seedErrTooLong, lineFraming), len(in), rejectConn
	}
	out, act := p.execLine(out, line, lineFraming, now)
	return out, n, act
}

// eof answers the unterminated request left at the peer's FIN (EOF
// framing).
func (p *LineProtocol) eof(out, rest []byte, now int64) []byte {
	out, _ = p.execLine(out, bytes.TrimRight(rest, "\r\n"), eofFraming, now)
	return out
}

// execLine runs one line (without its terminator) and appends the answer.
func (p *LineProtocol) execLine(out, line []byte, f framing, now int64) ([]byte, seedAction) {
	for _, ch := range line {
		if (ch < 0x20 && ch != '\t') || ch == 0x7f {
			return appendSeedError(out, seedErrBinary, f), rejectConn
		}
	}
	line = bytes.TrimFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(line) == 0 {
		return out, keepOpen
	}
	cmd, rest := cutBlank(line)
	key, val := cutBlank(rest)
	return p.core.exec(out, cmd, key, val, len(val) > 0, f, now)
}

// cutBlank splits b at its first run of blanks.
func cutBlank(b []byte) (head, tail []byte) {
	i := 0
	for i < len(b) && !isBlank(b[i]) {
		i++
	}
	head = b[:i]
	for i < len(b) && isBlank(b[i]) {
		i++
	}
	return head, b[i:]
}

// LengthProtocol serves the seed's length-prefixed protocol: each request
// is a 4-byte little-endian signed length and that many bytes, "GET key" or
// "SET key value" (the value is every byte after the space that follows
// the key, and may hold any bytes). Each answer is framed the same way
// (the seed's server answered unframed; this one frames): its payload is
// the value, empty for a missing key. An error answer has a negative
// length, minus the length of the text that follows ("ERR …"). Requests may
// be pipelined; their answers leave in order, one Write per read.
//
// A length above the limit or a negative one gets an error frame and the
// connection closes; a malformed command gets an error frame and the
// connection stays usable.
//
//	   complete frame: answer it
//	  ┌────────┐
//	  ▼        │
//	open ──────┘── bad length, EXIT ──► closing
//	  └── peer FIN: answer the complete frames ──► closing
//
// Goroutine-safe: one value serves every connection of its listener.
type LengthProtocol struct {
	loop.BaseProtocol
	core  seedCore             // goroutine-safe
	codec codec.LengthPrefixed // immutable
}

var _ loop.Protocol = (*LengthProtocol)(nil)

// NewLengthProtocol returns the length-prefixed protocol over st. Of opts,
// WithMaxValue and WithMaxLine apply (a frame may hold the command, a key
// of up to MaxLine bytes and a value of up to MaxValue bytes).
func NewLengthProtocol(st *Store, opts ...Option) *LengthProtocol {
	cfg := newConfig(opts)
	return newLength(st, &cfg)
}

func newLength(st *Store, cfg *config) *LengthProtocol {
	lp := codec.CloudHash()
	lp.MaxFrame = cfg.maxValue + cfg.maxLine + 8
	return &LengthProtocol{core: seedCore{st: st, cfg: cfg}, codec: lp}
}

// OnData answers every complete frame in one Write. Runs on the
// connection's loop.
func (p *LengthProtocol) OnData(c *conn.Conn) { p.core.serve(c, p.step, nil) }

// OnWritable goes on with the frames left unanswered while the peer was
// not reading its answers. Runs on the connection's loop.
func (p *LengthProtocol) OnWritable(c *conn.Conn) { p.core.serve(c, p.step, nil) }

// step answers the first frame of in.
func (p *LengthProtocol) step(out, in []byte, now int64) ([]byte, int, seedAction) {
	payload, n, err := p.codec.Decode(in)
	if errors.Is(err, codec.ErrNeedMore) {
		return out, 0, needMore
	}
	if err != nil {
		msg := seedErrTooLarge
		if errors.Is(err, codec.ErrNegativeLength) {
			msg = seedErrNegative
		}
		return appendSeedError(out, msg, lengthFraming), len(in), rejectConn
	}
	cmd, rest, _ := bytes.Cut(payload, []byte{' '})
	key, val, hasVal := bytes.Cut(rest, []byte{' '})
	out, act := p.core.exec(out, cmd, key, val, hasVal, lengthFraming, now)
	return out, n, act
}

// consume discards the first n inbound bytes; unlike c.Discard, n == 0
// discards nothing.
func consume(c *conn.Conn, n int) {
	if n > 0 {
		c.Discard(n)
	}
}
