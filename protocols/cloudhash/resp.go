package cloudhash

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reactorkit/reactor/codec"
	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

// RESPProtocol serves CloudHash over RESP2, the Redis protocol, with the
// command subset redis-cli, redis-benchmark and go-redis need (see
// commands.go). Replies and error texts are Redis 7.0's, byte for byte,
// except where a reply describes the server itself (INFO, COMMAND, HELLO,
// CONFIG GET).
//
// Every complete command in a read is executed in order and the replies
// leave in one Write. A malformed request gets Redis's "-ERR Protocol
// error: …" reply, after the replies to the commands before it, and the
// connection closes, as Redis closes it.
//
// Goroutine-safe: one value serves every connection of its listener; each
// connection's session is its own.
type RESPProtocol struct {
	st      *Store     // immutable
	cfg     *config    // immutable
	persist *persister // immutable
	codec   codec.RESP // immutable
	// noAuth is codec with Redis's limits for clients that have not
	// authenticated yet (10 arguments, 16 KiB bulks), so they cannot make
	// the server buffer large requests; immutable.
	noAuth   codec.RESP
	commands map[string]*command // by upper-case name; immutable
	started  time.Time           // immutable

	nextID  atomic.Int64 // the last client id handed out
	clients atomic.Int64 // open connections
	cmds    atomic.Int64 // commands processed, summed per read

	bufs sync.Pool // *respScratch
}

var _ loop.Protocol = (*RESPProtocol)(nil)

// NewRESPProtocol returns the RESP2 protocol over st. Of opts, WithPassword,
// WithDataFile (for SAVE and BGSAVE), WithMaxLine, WithMaxValue, WithMaxArgs
// and WithMaxReplyBatch apply.
func NewRESPProtocol(st *Store, opts ...Option) *RESPProtocol {
	cfg := newConfig(opts)
	return newRESP(st, &cfg, newPersister(st, cfg.dataFile, cfg.logger))
}

func newRESP(st *Store, cfg *config, persist *persister) *RESPProtocol {
	return &RESPProtocol{
		st:      st,
		cfg:     cfg,
		persist: persist,
		codec: codec.RESP{
			MaxInline: cfg.maxLine,
			MaxBulk:   int64(cfg.maxValue),
			MaxArgs:   cfg.maxArgs,
		},
		noAuth: codec.RESP{
			MaxInline: cfg.maxLine,
			MaxBulk:   min(int64(cfg.maxValue), unauthMaxBulk),
			MaxArgs:   min(cfg.maxArgs, unauthMaxArgs),
		},
		commands: commandTable(),
		started:  time.Now(),
	}
}

// The request limits of a client that has not authenticated, as in Redis
// (networking.c, processMultibulkBuffer).
const (
	unauthMaxArgs = 10
	unauthMaxBulk = 16 << 10
)

// decodeError returns the reply text for a malformed request: Redis's
// message, or, when only the unauthenticated limits rejected it, Redis's
// "unauthenticated" message.
func (p *RESPProtocol) decodeError(err error, in []byte, authed bool, req *codec.Request) string {
	var pe codec.ProtocolError
	if !authed && errors.As(err, &pe) && (pe.Kind == codec.InvalidMultibulkLength || pe.Kind == codec.InvalidBulkLength) {
		_, full := p.codec.DecodeRequest(in, req)
		if !errors.As(full, &pe) || pe.Kind != errKind(err) {
			if errKind(err) == codec.InvalidMultibulkLength {
				return "ERR Protocol error: unauthenticated multibulk length"
			}
			return "ERR Protocol error: unauthenticated bulk length"
		}
	}
	return "ERR " + err.Error()
}

func errKind(err error) codec.ProtocolErrorKind {
	var pe codec.ProtocolError
	if errors.As(err, &pe) {
		return pe.Kind
	}
	return 0
}

// respState is where a RESP session is:
//
//	   command: reply
//	  ┌────────┐
//	  ▼        │     SAVE                     save done: reply, go on
//	open ──────┘ ──────────► saving ─────────────────────────► open
//	  │                 (reading paused; the save runs on a
//	  │                  goroutine and reports back with Submit)
//	  └── QUIT, protocol error, peer FIN ──► closing (flush, close)
type respState uint8

const (
	respOpen respState = iota
	respSaving
	respClosing
	respLingering // rejected for a protocol error: see lingerClose
)

// respSession is one connection's state; loop goroutine only.
type respSession struct {
	state  respState
	authed bool   // AUTH or HELLO AUTH succeeded, or no password is set
	id     int64  // CLIENT ID; immutable
	name   string // CLIENT SETNAME
}

// respAction is what a command asks of the connection after its reply.
type respAction uint8

const (
	actContinue respAction = iota // go on with the next command
	actClose                      // flush and close (QUIT)
	actReject                     // protocol error: flush, then lingerClose
	actSave                       // stop, run SAVE, then go on
)

// respExec is the context of the commands of one read: the reply buffer
// and what they ask of the connection. It lives in a respScratch, lent to
// one OnData; loop goroutine only while lent.
type respExec struct {
	p   *RESPProtocol
	c   *conn.Conn
	s   *respSession
	out []byte
	now int64
	act respAction
}

// respScratch is what one OnData borrows from the protocol's pool.
type respScratch struct {
	x    respExec
	req  codec.Request
	keys [][]byte // SCAN and KEYS results
}

func (p *RESPProtocol) getScratch() *respScratch {
	if sc, ok := p.bufs.Get().(*respScratch); ok {
		return sc
	}
	return &respScratch{x: respExec{out: make([]byte, 0, 4096)}}
}

func (p *RESPProtocol) putScratch(sc *respScratch) {
	sc.x.c, sc.x.s = nil, nil
	sc.keys = sc.keys[:0]
	if cap(sc.x.out) > keepReplyBuf || len(sc.req.Args) > 1024 {
		return
	}
	sc.x.out = sc.x.out[:0]
	p.bufs.Put(sc)
}

// OnOpen starts the connection's session. Runs on the connection's loop.
func (p *RESPProtocol) OnOpen(c *conn.Conn) {
	p.clients.Add(1)
	c.SetContext(&respSession{id: p.nextID.Add(1), authed: p.cfg.password == ""})
}

// OnClose counts the connection out. Runs on the connection's loop.
func (p *RESPProtocol) OnClose(c *conn.Conn, err error) {
	p.clients.Add(-1)
}

// OnData executes every complete command and writes their replies once.
// Runs on the connection's loop.
func (p *RESPProtocol) OnData(c *conn.Conn) { p.serve(c) }

// OnWritable goes on with commands left unexecuted while the peer was not
// reading its replies. Runs on the connection's loop.
func (p *RESPProtocol) OnWritable(c *conn.Conn) { p.serve(c) }

// serve executes the buffered commands; see RESPProtocol.
func (p *RESPProtocol) serve(c *conn.Conn) {
	s, _ := c.Context().(*respSession)
	if s != nil && s.state == respLingering {
		drainLingering(c)
		return
	}
	if s == nil || s.state != respOpen {
		return
	}
	p.cfg.traced("data")
	in, _ := c.Peek(0)
	sc := p.getScratch()
	x := &sc.x
	x.p, x.c, x.s, x.now, x.act = p, c, s, nowMillis(), actContinue
	off, ncmds, stalled := 0, 0, false
	for off < len(in) && x.act == actContinue {
		cd := &p.codec
		if !s.authed {
			cd = &p.noAuth
		}
		n, err := cd.DecodeRequest(in[off:], &sc.req)
		off += n
		if errors.Is(err, codec.ErrNeedMore) {
			break
		}
		if err != nil {
			// A ProtocolError's text is Redis's own.
			x.out = codec.AppendError(x.out, p.decodeError(err, in[off:], s.authed, &sc.req))
			x.act = actReject
			break
		}
		ncmds++
		p.dispatch(x, sc)
		if len(x.out) >= p.cfg.maxReplyBatch {
			p.cfg.traced("write")
			c.Write(x.out)
			x.out = x.out[:0]
			if c.OutboundLen() > replyHighWatermark && x.act == actContinue {
				stalled = true
				break
			}
		}
	}
	p.cmds.Add(int64(ncmds))
	act := x.act
	done := act == actClose || act == actReject || (act == actContinue && !stalled && c.PeerClosed())
	if done {
		c.Discard(0)
		s.state = respClosing
	} else {
		consume(c, off)
	}
	if len(x.out) > 0 {
		p.cfg.traced("write")
		c.Write(x.out)
	}
	p.putScratch(sc)
	switch {
	case act == actReject && !c.PeerClosed():
		s.state = respLingering
		lingerClose(c)
	case done:
		c.Close()
	case act == actSave:
		p.startSave(c, s)
	}
}

// startSave runs SAVE on a goroutine with the session paused; the reply
// and the commands after it follow when it is done.
func (p *RESPProtocol) startSave(c *conn.Conn, s *respSession) {
	s.state = respSaving
	c.PauseRead()
	err := p.persist.background(func(err error) {
		c.Submit(func(c *conn.Conn) { p.saveDone(c, s, err) })
	})
	if err != nil {
		p.saveDone(c, s, err)
	}
}

// saveDone replies to SAVE and goes on with the commands after it.
func (p *RESPProtocol) saveDone(c *conn.Conn, s *respSession, err error) {
	if s.state != respSaving {
		return
	}
	s.state = respOpen
	var reply []byte
	switch {
	case err == nil:
		reply = codec.AppendSimpleString(nil, "OK")
	case errors.Is(err, ErrSaveInProgress):
		reply = codec.AppendError(nil, "ERR Background save already in progress")
	case errors.Is(err, ErrNoDataFile):
		reply = codec.AppendError(nil, errNoDataFileText)
	default:
		reply = codec.AppendError(nil, "ERR "+err.Error())
	}
	c.Write(reply)
	c.ResumeRead()
	p.serve(c)
}

const errNoDataFileText = "ERR no data file configured; start the server with a data file to SAVE"

// dispatch executes one command in the order of Redis's processCommand:
// existence, arity, authentication, memory, then the command itself.
func (p *RESPProtocol) dispatch(x *respExec, sc *respScratch) {
	args := sc.req.Args
	cmd := p.lookup(args[0])
	if cmd == nil {
		x.out = codec.AppendError(x.out, unknownCommand(args))
		return
	}
	if cmd.sub != nil && len(args) >= 2 {
		sub := cmd.sub[upperKey(args[1])]
		if sub == nil {
			x.out = codec.AppendError(x.out, "ERR unknown subcommand '"+trunc128(args[1])+"'. Try "+upperKey(args[0])+" HELP.")
			return
		}
		cmd = sub
	}
	if !arityOK(cmd.arity, len(args)) {
		x.out = codec.AppendError(x.out, "ERR wrong number of arguments for '"+cmd.name+"' command")
		return
	}
	if !x.s.authed && !cmd.noAuth {
		x.out = append(x.out, "-NOAUTH Authentication required.\r\n"...)
		return
	}
	if cmd.denyOOM && p.st.OverMemory() {
		x.out = append(x.out, "-OOM command not allowed when used memory > 'maxmemory'.\r\n"...)
		return
	}
	cmd.run(x, args, sc)
}

// lookup finds a command by name, ignoring case, without allocating.
func (p *RESPProtocol) lookup(name []byte) *command {
	var buf [24]byte
	if len(name) > len(buf) {
		return nil
	}
	for i, c := range name {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	return p.commands[string(buf[:len(name)])]
}

// upperKey returns b in upper case.
func upperKey(b []byte) string {
	u := []byte(string(b))
	for i, c := range u {
		if 'a' <= c && c <= 'z' {
			u[i] = c - ('a' - 'A')
		}
	}
	return string(u)
}

// arityOK applies Redis's arity rule: n exactly, or at least -n when n is
// negative.
func arityOK(arity, argc int) bool {
	if arity >= 0 {
		return argc == arity
	}
	return argc >= -arity
}

// trunc128 is C's %.128s.
func trunc128(b []byte) string {
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}

// unknownCommand is Redis 7.0's error for a command it does not know: the
// name, and the arguments quoted until 128 bytes of them are shown.
func unknownCommand(args [][]byte) string {
	var shown []byte
	for _, a := range args[1:] {
		if len(shown) >= 128 {
			break
		}
		room := 128 - len(shown)
		if len(a) > room {
			a = a[:room]
		}
		shown = append(append(append(shown, '\''), a...), '\'', ' ')
	}
	return "ERR unknown command '" + trunc128(args[0]) + "', with args beginning with: " + string(shown)
}

// Reply helpers.

func (x *respExec) ok() { x.out = append(x.out, "+OK\r\n"...) }

func (x *respExec) err(msg string) { x.out = codec.AppendError(x.out, msg) }

func (x *respExec) int(n int64) { x.out = codec.AppendInt(x.out, n) }

func (x *respExec) bulk(b []byte) { x.out = codec.AppendBulk(x.out, b) }

func (x *respExec) bulkString(s string) { x.out = codec.AppendBulkString(x.out, s) }

func (x *respExec) null() { x.out = codec.AppendNullBulk(x.out) }

func (x *respExec) array(n int) { x.out = codec.AppendArrayHeader(x.out, n) }

func (x *respExec) status(s string) { x.out = codec.AppendSimpleString(x.out, s) }

// Redis's common error texts.
const (
	errSyntax     = "ERR syntax error"
	errNotInt     = "ERR value is not an integer or out of range"
	errOverflowed = "ERR increment or decrement would overflow"
)

func errExpireTime(cmd string) string {
	return "ERR invalid expire time in '" + cmd + "' command"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
