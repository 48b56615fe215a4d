package ftp

import (
	"bytes"
	"crypto/tls"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/codec"
	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

// A session is one control connection, in one of three login states:
//
//	          USER              PASS ok (bcrypt off the loop)
//	needUser ──────► needPass ─────────────────────────────► loggedIn
//	   ▲  ▲             │ PASS bad: 530 after a loop-timer delay;   │
//	   │  └─────────────┘ the Nth failure closes the session        │
//	   └──────────── REIN, or USER (flushes the account) ───────────┘
//
// When the server shuts down (OnShutdown), a session with nothing running
// is told 421 and closed; one with a transfer or off-loop work in progress
// finishes it first, its control connection marked busy (conn.SetBusy) so
// the graceful drain waits for it, then gets the transfer's final reply,
// 421, and the close.
//
// Across all three, two flags gate reading: busy while a command waits for
// off-loop work (a file opened, a folder listed, a hash checked) or a delay
// before its reply, and deferred while a command that needs the data
// connection waits for the running transfer to end. While either is set no
// further command is parsed and the control connection stops reading, so
// replies keep the order of the commands. Once a transfer has started
// (its 150 is out) other commands, ABOR first of all, are answered at once.
//
// The data connection and the transfer have states of their own: see
// dataChan and transfer.
type sessState uint8

const (
	needUser sessState = iota
	needPass
	loggedIn
)

// session is the per-connection state of a control connection, stored in
// its Conn.Context. Loop goroutine only, except the immutable fields.
type session struct {
	srv  *Server    // immutable
	c    *conn.Conn // the control connection; immutable
	lp   *loop.Loop // c's loop, where the data connections live too; immutable
	peer netip.Addr // the client's address; immutable

	state    sessState
	user     string   // the name USER gave
	acct     *account // the logged-in account; nil before login
	cwd      string   // current folder, a clean absolute virtual path
	binary   bool     // TYPE I (or L 8) rather than TYPE A
	restart  int64    // REST offset for the next transfer
	rnfr     string   // RNFR's path, kept for the RNTO that must follow
	epsvAll  bool     // EPSV ALL: only EPSV may set up data connections
	facts    factSet  // MLST facts chosen with OPTS MLST
	failures int      // failed logins so far

	tlsCfg *tls.Config // the TLS configuration once AUTH TLS was accepted; nil: plaintext
	protP  bool        // PROT P: data connections use TLS

	busy       bool  // waiting for off-loop work or a delay; commands wait
	deferred   bool  // a data command waits for the transfer to end
	quitting   bool  // QUIT came during a transfer: close after its reply
	shutting   bool  // the server is shutting down: 421 once nothing runs
	closed     bool  // OnClose ran
	discarding bool  // skipping the rest of an over-long command line
	lastActive int64 // loop clock of the last command, for the idle timeout

	data *dataChan   // the data channel PASV/PORT set up; nil when none
	xfer *transfer   // the transfer in progress; nil when none
	idle *conn.Timer // the idle timeout; nil when disabled

	out  []byte // replies gathered during one event, flushed once
	line []byte // scratch: the current command without Telnet bytes
}

func newSession(srv *Server, c *conn.Conn, peer netip.Addr) *session {
	return &session{srv: srv, c: c, lp: loop.Of(c), peer: peer, cwd: "/", facts: defaultFacts}
}

// open sets the control connection up and sends the greeting.
func (s *session) open() {
	// Urgent data (the Telnet "synch" a client sends before ABOR, RFC 959
	// §4.1.3) is read inline, in order, instead of being lost or stalling
	// the stream; the parser strips the Telnet bytes (socket(7)
	// SO_OOBINLINE).
	s.c.Control(func(fd uintptr) {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_OOBINLINE, 1); err != nil {
			s.srv.cfg.logger.Warn("ftp: SO_OOBINLINE", "err", err)
		}
	})
	// The session's own idle timer replaces the connection's, so that the
	// client is told 421 before the close.
	s.c.SetIdleTimeout(0)
	// Enough for a few pipelined commands; longer lines are cut off by
	// the parser long before.
	s.c.SetMaxInbound(2*s.srv.cfg.maxLine + 64<<10)
	if d := s.srv.cfg.idle; d > 0 {
		s.lastActive = s.lp.Now()
		s.idle = s.c.AfterFunc(d, s.onIdle)
	}
	s.reply(220, s.srv.cfg.banner)
	s.flush()
}

// onData runs every complete command line.
func (s *session) onData() { s.process() }

// process parses and runs command lines until input runs out or a command
// has to wait, then flushes the replies. Handling the end of input is here
// too: once the client has closed its side, the session ends.
func (s *session) process() {
	lc := codec.Line{MaxLen: s.srv.cfg.maxLine}
	for !s.busy && !s.deferred && !s.closed && !s.c.Closed() && (!s.shutting || s.xfer != nil) {
		b, _ := s.c.Peek(0)
		if len(b) == 0 {
			break
		}
		if s.discarding {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				s.c.Discard(0)
				break
			}
			s.c.Discard(i + 1)
			s.discarding = false
			continue
		}
		line, n, err := lc.Decode(b)
		if err == codec.ErrNeedMore {
			break
		}
		if err != nil {
			// codec.ErrLineTooLong: said as soon as the limit passes, so a
			// huge line is never buffered whole.
			s.reply(500, "Command line too long.")
			s.discarding = true
			continue
		}
		s.line = stripTelnet(s.line[:0], line)
		name, arg := splitCommand(s.line)
		if s.xfer != nil && s.state == loggedIn {
			if cmd := s.srv.cmds.find(name); cmd != nil && cmd.flags&(usesData|afterTransfer) != 0 {
				s.deferred = true // answered once the transfer ends
				break
			}
		}
		s.c.Discard(n)
		s.lastActive = s.lp.Now()
		s.execute(name, arg)
	}
	if s.closed {
		return
	}
	if s.shutting && !s.busy && s.xfer == nil {
		s.goodbye()
		return
	}
	if s.busy || s.deferred {
		s.c.PauseRead()
	}
	// A graceful shutdown waits for a session with work in progress that
	// the control connection's own buffers do not show.
	s.c.SetBusy(s.busy || s.xfer != nil)
	s.flush()
	if s.c.PeerClosed() && !s.busy && !s.c.Closed() {
		s.c.Close()
	}
}

// resume reads commands again after an async step or a transfer ended.
func (s *session) resume() {
	if s.closed {
		return
	}
	if !s.busy && !s.deferred {
		s.c.ResumeRead()
	}
	s.process()
}

// splitCommand splits "RETR some file" into "RETR" (upper case) and "some
// file"; the argument keeps its inner spaces.
func splitCommand(line []byte) (name, arg string) {
	l := string(line)
	name, arg, _ = strings.Cut(l, " ")
	return strings.ToUpper(name), strings.TrimRight(arg, " ")
}

// execute runs one command through the checks every command shares:
// known (500), argument present or absent as it should be (501), logged in
// (530).
func (s *session) execute(name, arg string) {
	cmd := s.srv.cmds.find(name)
	if cmd == nil {
		// Clients that send the Telnet interrupt without IAC leave junk in
		// front of the command; pyftpdlib accepts these three this way.
		for _, n := range [...]string{"ABOR", "STAT", "QUIT"} {
			if strings.HasSuffix(name, n) {
				cmd = s.srv.cmds.find(n)
			}
		}
	}
	if cmd == nil {
		s.reply(500, "Unknown command.")
		return
	}
	if cmd.name != "RNTO" {
		s.rnfr = ""
	}
	switch {
	case cmd.arg == argNone && arg != "":
		s.reply(501, "Syntax error: command does not accept arguments.")
	case cmd.arg == argRequired && arg == "":
		s.reply(501, "Syntax error: command needs an argument.")
	case cmd.flags&preLogin == 0 && s.state != loggedIn:
		s.reply(530, "Please login with USER and PASS.")
	default:
		cmd.run(s, arg)
	}
}

// reply queues a one-line reply.
func (s *session) reply(code int, msg string) {
	s.out = strconv.AppendInt(s.out, int64(code), 10)
	s.out = append(s.out, ' ')
	s.out = append(s.out, msg...)
	s.out = append(s.out, '\r', '\n')
}

// replyLines queues a multi-line reply (RFC 959 §4.2): "code-first", each
// line indented by a space, then "code last".
func (s *session) replyLines(code int, first string, lines []string, last string) {
	s.out = strconv.AppendInt(s.out, int64(code), 10)
	s.out = append(s.out, '-')
	s.out = append(s.out, first...)
	s.out = append(s.out, '\r', '\n')
	for _, l := range lines {
		s.out = append(s.out, ' ')
		s.out = append(s.out, l...)
		s.out = append(s.out, '\r', '\n')
	}
	s.reply(code, last)
}

// flush writes the gathered replies with one write.
func (s *session) flush() {
	if len(s.out) == 0 || s.closed {
		return
	}
	out := s.out
	s.out = s.out[:0]
	if cap(s.out) > 64<<10 {
		s.out = nil
	}
	s.c.Write(out) // may close the connection, and run onClose, on error
}

// post runs fn on the session's loop, then reads commands again; it is how
// worker jobs report back. If the session has ended (or the loop stopped)
// by then, cleanup runs instead, on whichever goroutine finds out, to
// release what the job holds. Goroutine-safe.
func (s *session) post(fn, cleanup func()) {
	err := s.lp.Submit(func() {
		if s.closed {
			if cleanup != nil {
				cleanup()
			}
			return
		}
		fn()
		s.resume()
	})
	if err != nil && cleanup != nil {
		cleanup()
	}
}

// await runs work on pool while the session reads no further command; the
// function work returns then runs on the loop. When the session has ended
// by then, cleanup (work's second result, may be nil) runs instead.
func (s *session) await(pool *workers, work func() (then, cleanup func())) {
	s.busy = true
	ok := pool.Go(func() {
		then, cleanup := work()
		s.post(func() {
			s.busy = false
			then()
		}, cleanup)
	})
	if !ok {
		s.busy = false
		s.reply(421, "Service not available, closing control connection.")
		s.closeAfterReply()
	}
}

// closeAfterReply sends the queued replies, then closes the session.
func (s *session) closeAfterReply() {
	s.flush()
	s.c.Close()
}

// onIdle closes the session after the idle timeout without a command. A
// data connection or transfer in progress keeps it alive (pyftpdlib
// suspends the control timeout likewise).
func (s *session) onIdle() {
	if s.closed {
		return
	}
	now := s.lp.Now()
	if s.busy || s.xfer != nil || (s.data != nil && s.data.c != nil) {
		s.lastActive = now
	}
	deadline := s.lastActive + int64(s.srv.cfg.idle)
	if now < deadline {
		s.lp.Reset(s.idle, time.Duration(deadline-now))
		return
	}
	s.reply(421, "Timeout: no command for "+s.srv.cfg.idle.String()+"; closing control connection.")
	s.closeAfterReply()
}

// shutdown runs when the server shuts down: the session says goodbye now,
// or once the transfer or off-loop work in progress is done. A transfer
// still waiting for its data connection cannot get one any more (the
// passive port closed with the server's listeners) and fails at once; a
// running one gets WithShutdownGrace to finish, if set, then fails with
// 426.
func (s *session) shutdown() {
	if s.closed || s.shutting {
		return
	}
	s.shutting = true
	if x := s.xfer; x != nil {
		if x.phase == xWaiting {
			x.fail(425, "Can't open data connection: server shutting down.")
		} else if d := s.srv.cfg.shutdownGrace; d > 0 {
			s.c.AfterFunc(d, func() {
				if s.xfer == x && !s.closed {
					x.fail(426, "Transfer aborted: server shutting down.")
					s.resume()
				}
			})
		}
	}
	s.process()
}

// goodbye is the last reply of a session the server shuts down.
func (s *session) goodbye() {
	s.reply(421, "Server shutting down; closing control connection.")
	s.closeAfterReply()
}

// onClose ends the session: its transfer and data connections go with it.
func (s *session) onClose(error) {
	if s.closed {
		return
	}
	s.closed = true
	if s.idle != nil {
		s.idle.Stop()
	}
	if s.xfer != nil {
		s.xfer.abort()
	}
	s.dropData()
	s.srv.release(s.peer)
}

// dropData discards the data channel, if any.
func (s *session) dropData() {
	if s.data != nil {
		s.data.discard()
		s.data = nil
	}
}

// resetAccount returns the session to the state of a new connection (REIN,
// or USER while logged in), letting a transfer in progress finish.
func (s *session) resetAccount() {
	s.state, s.user, s.acct = needUser, "", nil
	s.cwd, s.binary, s.restart, s.rnfr = "/", false, 0, ""
	s.facts = defaultFacts
	if s.xfer == nil {
		s.dropData()
	}
}

// path resolves a command's path argument against the current folder; on
// failure it replies 550 and returns false.
func (s *session) path(arg string) (string, bool) {
	p, ok := resolve(s.cwd, arg, false)
	if !ok {
		s.reply(550, "Permission denied: path outside your root.")
	}
	return p, ok
}

// writable replies 550 and returns false if the user may not change files.
func (s *session) writable() bool {
	if !s.acct.write {
		s.reply(550, "Permission denied.")
		return false
	}
	return true
}
