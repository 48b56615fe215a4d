package cloudhash

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/reactorkit/reactor/codec"
	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

// Framing selects the wire protocol a Client speaks.
type Framing uint8

const (
	// FramingLine is the line protocol: "GET key\n", answers end in LF.
	// Values cannot hold CR or LF, nor start or end with a blank (the
	// server trims them), and a value that starts with "ERR " or "OOM "
	// reads back as an error.
	FramingLine Framing = iota
	// FramingLength is the length-prefixed protocol: requests and answers
	// are 4-byte little-endian lengths and payloads; values may hold any
	// bytes.
	FramingLength
)

// String names the framing ("line" or "length-prefixed").
func (f Framing) String() string {
	if f == FramingLength {
		return "length-prefixed"
	}
	return "line"
}

// Client defaults.
const (
	DefaultClientTimeout   = 5 * time.Second
	DefaultDialTimeout     = 5 * time.Second
	DefaultClientMaxAnswer = 64 << 20
)

// ClientOption configures a Client.
type ClientOption func(*clientConfig)

type clientConfig struct {
	framing     Framing
	timeout     time.Duration
	dialTimeout time.Duration
	maxAnswer   int
	ls          *loop.Server
}

// WithFraming selects the protocol (default FramingLine).
func WithFraming(f Framing) ClientOption { return func(c *clientConfig) { c.framing = f } }

// WithTimeout bounds how long a call waits for its answer (default
// DefaultClientTimeout). A call that times out closes the connection,
// since the answers behind it would arrive late too; the next call dials
// again.
func WithTimeout(d time.Duration) ClientOption { return func(c *clientConfig) { c.timeout = d } }

// WithDialTimeout bounds each connect (default DefaultDialTimeout).
func WithDialTimeout(d time.Duration) ClientOption {
	return func(c *clientConfig) { c.dialTimeout = d }
}

// WithMaxAnswer sets the largest answer accepted (default
// DefaultClientMaxAnswer); a larger one closes the connection.
func WithMaxAnswer(n int) ClientOption { return func(c *clientConfig) { c.maxAnswer = n } }

// WithClientLoops makes the client dial on ls, a loop.Server the caller
// owns and shuts down after closing the client. By default a client
// starts a one-loop server of its own and stops it in Close.
func WithClientLoops(ls *loop.Server) ClientOption { return func(c *clientConfig) { c.ls = ls } }

// Client is a pipelined client of CloudHash's line and length-prefixed
// protocols, built on reactor's own non-blocking Dial: its connection lives
// on an event loop, requests from any number of goroutines are queued and
// written together, and answers are matched to requests in order. It
// redials after its connection is lost. Every method is goroutine-safe but
// must not be called from an event loop goroutine (it blocks).
type Client struct {
	addr  string       // immutable
	cfg   clientConfig // immutable
	ls    *loop.Server // immutable
	ownLS bool         // the client started ls and stops it; immutable

	// mu guards cc and closed; dialing happens with mu held, so
	// concurrent callers wait for one dial.
	mu     sync.Mutex
	cc     *clientConn
	closed bool
}

// Dial connects a client to addr ("host:port").
func Dial(ctx context.Context, addr string, opts ...ClientOption) (*Client, error) {
	cfg := clientConfig{timeout: DefaultClientTimeout, dialTimeout: DefaultDialTimeout, maxAnswer: DefaultClientMaxAnswer}
	for _, o := range opts {
		o(&cfg)
	}
	cl := &Client{addr: addr, cfg: cfg, ls: cfg.ls}
	if cl.ls == nil {
		ls, err := loop.NewServer(loop.WithLoops(1))
		if err != nil {
			return nil, err
		}
		cl.ls, cl.ownLS = ls, true
	}
	cl.mu.Lock()
	_, err := cl.connLocked(ctx)
	cl.mu.Unlock()
	if err != nil {
		if cl.ownLS {
			cl.ls.Close()
		}
		return nil, err
	}
	return cl, nil
}

// connLocked returns the live connection, dialing a new one if there is
// none; cl.mu held.
func (cl *Client) connLocked(ctx context.Context) (*clientConn, error) {
	if cl.closed {
		return nil, ErrClientClosed
	}
	if cc := cl.cc; cc != nil && cc.alive() {
		return cc, nil
	}
	cc := &clientConn{cl: cl}
	c, err := cl.ls.Dial(ctx, "tcp", cl.addr, (*clientProto)(cc), loop.WithConnectTimeout(cl.cfg.dialTimeout))
	if err != nil {
		return nil, fmt.Errorf("cloudhash: dial %s: %w", cl.addr, err)
	}
	cc.mu.Lock()
	cc.c = c
	cc.mu.Unlock()
	cl.cc = cc
	return cc, nil
}

// Get returns key's value; a missing key reads as an empty value, as in
// the seed's protocol.
func (cl *Client) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var req []byte
	if cl.cfg.framing == FramingLength {
		req = appendLengthRequest(nil, "GET ", key, nil, false)
	} else {
		req = append(append([]byte("GET "), key...), '\n')
	}
	return cl.do(ctx, req)
}

// Set stores value under key.
func (cl *Client) Set(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	var req []byte
	if cl.cfg.framing == FramingLength {
		req = appendLengthRequest(nil, "SET ", key, value, true)
	} else {
		if len(value) == 0 || bytes.ContainsAny(value, "\r\n") || isBlank(value[0]) || isBlank(value[len(value)-1]) {
			return fmt.Errorf("%w: the line protocol cannot carry value %q", ErrInvalidArgument, value)
		}
		req = append(append(append(append([]byte("SET "), key...), ' '), value...), '\n')
	}
	got, err := cl.do(ctx, req)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, value) {
		return fmt.Errorf("cloudhash: SET answered %q, not the value", got)
	}
	return nil
}

func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidArgument)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("%w: key %q holds a blank or control byte", ErrInvalidArgument, key)
		}
	}
	return nil
}

func appendLengthRequest(dst []byte, cmd, key string, val []byte, withVal bool) []byte {
	n := len(cmd) + len(key)
	if withVal {
		n += 1 + len(val)
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = append(append(dst, cmd...), key...)
	if withVal {
		dst = append(append(dst, ' '), val...)
	}
	return dst
}

// do sends one framed request and waits for its answer.
func (cl *Client) do(ctx context.Context, req []byte) ([]byte, error) {
	cl.mu.Lock()
	cc, err := cl.connLocked(ctx)
	cl.mu.Unlock()
	if err != nil {
		return nil, err
	}
	call := &clientCall{done: make(chan struct{})}
	if err := cc.send(req, call); err != nil {
		return nil, err
	}
	timer := time.NewTimer(cl.cfg.timeout)
	defer timer.Stop()
	select {
	case <-call.done:
		return call.val, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		cc.kill()
		return nil, ErrTimeout
	}
}

// Close closes the connection (calls in flight fail with ErrConnLost) and,
// unless the loops were given with WithClientLoops, stops the client's
// event loop.
func (cl *Client) Close() error {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return nil
	}
	cl.closed = true
	cc := cl.cc
	cl.mu.Unlock()
	if cc != nil {
		cc.kill()
	}
	if cl.ownLS {
		return cl.ls.Close()
	}
	return nil
}

// clientCall is one request waiting for its answer. val and err are
// written once, by the loop goroutine, before done closes.
type clientCall struct {
	done chan struct{}
	val  []byte
	err  error
}

func (call *clientCall) finish(val []byte, err error) {
	call.val, call.err = val, err
	close(call.done)
}

// clientConn is one connection of a Client.
//
// Requests travel: caller goroutine → queued (under mu) → a flush task on
// the loop writes them all at once and moves their calls to pending →
// OnData matches answers to pending in order. Everything that ends the
// connection goes through OnClose, which fails pending and queued calls.
type clientConn struct {
	cl *Client // immutable

	// mu guards the fields below it.
	mu        sync.Mutex
	c         *conn.Conn    // the connection; set once Dial returns
	out       []byte        // requests not yet handed to the loop
	queued    []*clientCall // their calls, in order
	scheduled bool          // a flush task is queued on the loop
	dead      error         // why the connection ended; nil while open

	// Loop goroutine only.
	pending []*clientCall // written, waiting for answers, oldest first
	spare   []byte        // the write buffer not in use, for reuse
}

func (cc *clientConn) alive() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.dead == nil
}

// send queues req and its call, and makes sure a flush task will run.
// Goroutine-safe.
func (cc *clientConn) send(req []byte, call *clientCall) error {
	cc.mu.Lock()
	if cc.dead != nil {
		err := cc.dead
		cc.mu.Unlock()
		return err
	}
	cc.out = append(cc.out, req...)
	cc.queued = append(cc.queued, call)
	schedule := !cc.scheduled
	cc.scheduled = true
	c := cc.c
	cc.mu.Unlock()
	if schedule {
		if err := c.Submit(cc.flush); err != nil {
			// The connection closed before the task could be queued;
			// OnClose fails (or has failed) the queued calls.
			return nil
		}
	}
	return nil
}

// flush writes every queued request with one Write. Loop goroutine only.
func (cc *clientConn) flush(c *conn.Conn) {
	cc.mu.Lock()
	out := cc.out
	cc.out = cc.spare[:0]
	cc.pending = append(cc.pending, cc.queued...)
	clear(cc.queued)
	cc.queued = cc.queued[:0]
	cc.scheduled = false
	cc.mu.Unlock()
	c.Write(out)
	cc.spare = out[:0]
}

// kill closes the connection from any goroutine. Goroutine-safe.
func (cc *clientConn) kill() {
	cc.mu.Lock()
	c := cc.c
	cc.mu.Unlock()
	if c != nil {
		c.Submit(func(c *conn.Conn) { c.Close() })
	}
}

// clientProto is the Protocol of a client connection: it matches answers
// to calls. Its connection's states:
//
//	open ── answer ──► open (the oldest pending call completes)
//	  └── EOF, error, bad answer, kill ──► closed (every call fails)
type clientProto clientConn

// OnOpen does nothing: the dialer sets the connection when Dial returns.
func (p *clientProto) OnOpen(*conn.Conn) {}

// OnWritable does nothing.
func (p *clientProto) OnWritable(*conn.Conn) {}

// OnData completes pending calls with the complete answers. Loop goroutine.
func (p *clientProto) OnData(c *conn.Conn) {
	cc := (*clientConn)(p)
	in, _ := c.Peek(0)
	off := 0
	for off < len(in) && len(cc.pending) > 0 {
		val, n, err := cc.decode(in[off:])
		if errors.Is(err, codec.ErrNeedMore) {
			break
		}
		if err != nil {
			c.Discard(0)
			c.Close()
			return
		}
		off += n
		call := cc.pending[0]
		cc.pending[0] = nil
		cc.pending = cc.pending[1:]
		call.finish(val.v, val.err)
	}
	if len(cc.pending) == 0 {
		cc.pending = nil
	}
	if off < len(in) && len(cc.pending) == 0 {
		// Bytes nobody asked for: the stream is out of step.
		c.Discard(0)
		c.Close()
		return
	}
	consume(c, off)
	if c.PeerClosed() {
		c.Close()
	}
}

// answer is a decoded answer: a copied value or a server error.
type answer struct {
	v   []byte
	err error
}

// decode decodes the first answer of in in the client's framing.
func (cc *clientConn) decode(in []byte) (answer, int, error) {
	if cc.cl.cfg.framing == FramingLength {
		if len(in) < 4 {
			return answer{}, 0, codec.ErrNeedMore
		}
		n := int64(int32(binary.LittleEndian.Uint32(in)))
		isErr := n < 0
		if isErr {
			n = -n
		}
		if n > int64(cc.cl.cfg.maxAnswer) {
			return answer{}, 0, fmt.Errorf("%w: answer of %d bytes", codec.ErrFrameTooLarge, n)
		}
		if int64(len(in)) < 4+n {
			return answer{}, 0, codec.ErrNeedMore
		}
		payload := in[4 : 4+n]
		if isErr {
			return answer{err: &ServerError{Msg: string(payload)}}, int(4 + n), nil
		}
		return answer{v: bytes.Clone(payload)}, int(4 + n), nil
	}
	line, n, err := codec.Line{MaxLen: cc.cl.cfg.maxAnswer}.Decode(in)
	if err != nil {
		return answer{}, 0, err
	}
	if bytes.HasPrefix(line, []byte("ERR ")) || bytes.HasPrefix(line, []byte("OOM ")) {
		return answer{err: &ServerError{Msg: string(line)}}, n, nil
	}
	v := bytes.Clone(line)
	if v == nil {
		v = []byte{}
	}
	return answer{v: v}, n, nil
}

// OnClose fails every call still waiting. Loop goroutine.
func (p *clientProto) OnClose(c *conn.Conn, err error) {
	cc := (*clientConn)(p)
	cause := ErrConnLost
	if err != nil {
		cause = fmt.Errorf("%w: %w", ErrConnLost, err)
	}
	cc.mu.Lock()
	cc.dead = cause
	queued := cc.queued
	cc.queued, cc.out = nil, nil
	cc.mu.Unlock()
	for _, call := range cc.pending {
		call.finish(nil, cause)
	}
	cc.pending = nil
	for _, call := range queued {
		call.finish(nil, cause)
	}
}

var _ loop.Protocol = (*clientProto)(nil)
