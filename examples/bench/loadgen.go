package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/examples/patterns/handler"
	"github.com/reactorkit/reactor/loop"
)

// The load generator runs on reactor itself: a loop.Server with no listener
// whose event loops dial the server under test and drive every connection
// with non-blocking sockets. One loadRun holds the state of one
// measurement; its per-connection state lives in each conn's context and is
// touched only by that connection's loop goroutine.

// Phases of a run, in order. Replies are counted and timed only while
// measuring; once stopping, connections send nothing more and finish when
// their replies are in.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// loopStats is what one event loop of the generator counted. Loop goroutine
// only until the generator's server has shut down.
type loopStats struct {
	hist histogram
	ops  int64
}

// loadRun is one measurement's clients.
type loadRun struct {
	w    workload
	addr string // the server under test
	dir  string // the FTP server's directory, for the PWD reply
	ctx  context.Context

	// The session's script: each reply expected, and the command sent once
	// it has arrived. After QUIT's reply the server closes.
	replies  [4]string
	commands [3]string

	phase    atomic.Int32  // phaseWarmup, phaseMeasure or phaseStop
	ids      atomic.Int64  // numbers connections for error messages
	ops      atomic.Int64  // operations completed in any phase (stall watch)
	ready    atomic.Int64  // idle: connections that echoed their one message
	active   atomic.Int64  // connections or slots not finished yet
	finished chan struct{} // closed when active falls to 0 after phaseStop
	once     sync.Once     // closes finished
	aborting atomic.Bool   // the run is being torn down: closes are expected

	stats []loopStats // indexed by loop index; see loopStats

	// dialOpts are given to every dial: loop.WithTLS for the TLS workloads.
	dialOpts []loop.Option
	// negotiated describes the first TLS connection's state (see noteTLS).
	negotiated atomic.Pointer[string]

	mu  sync.Mutex
	err error // first failure; guarded by mu
}

func newLoadRun(ctx context.Context, w workload, addr, dir string, loops int) *loadRun {
	return &loadRun{
		w: w, addr: addr, dir: dir, ctx: ctx,
		replies:  [4]string{handler.Greeting, handler.ReplyUser, handler.ReplyPWD(dir), handler.ReplyQuit},
		commands: [3]string{"USER anonymous\r\n", "PWD\r\n", "QUIT\r\n"},
		finished: make(chan struct{}),
		stats:    make([]loopStats, loops),
	}
}

// fail records the run's first failure. Any goroutine.
func (r *loadRun) fail(err error) {
	if r.aborting.Load() {
		return
	}
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

// failure returns the first failure, if any. Any goroutine.
func (r *loadRun) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// done marks one connection or slot finished. Loop goroutine.
func (r *loadRun) done() {
	if r.active.Add(-1) == 0 && r.phase.Load() == phaseStop {
		r.once.Do(func() { close(r.finished) })
	}
}

// stop ends the measurement: no more requests are sent.
func (r *loadRun) stop() {
	r.phase.Store(phaseStop)
	if r.active.Load() == 0 {
		r.once.Do(func() { close(r.finished) })
	}
}

// noteTLS checks a TLS connection that has finished its handshake: a full
// handshake (a resumed one would not measure what tls-handshake measures;
// the generator keeps no session cache, so none should be) with the state
// recorded once for the report. Loop goroutine.
func (r *loadRun) noteTLS(c *conn.Conn) bool {
	if !r.w.TLS {
		return true
	}
	st, ok := c.TLSState()
	if !ok {
		r.fail(errors.New("TLS connection opened without a finished handshake"))
		return false
	}
	if st.DidResume {
		r.fail(errors.New("a TLS session was resumed: not a full handshake"))
		return false
	}
	if r.negotiated.Load() == nil {
		desc := fmt.Sprintf("%s, %s, key exchange %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.CurveID)
		r.negotiated.CompareAndSwap(nil, &desc)
	}
	return true
}

// tlsState returns what noteTLS recorded, or "".
func (r *loadRun) tlsState() string {
	if p := r.negotiated.Load(); p != nil {
		return *p
	}
	return ""
}

// completed counts one operation, which took lat, on l's stats.
func (r *loadRun) completed(l *loop.Loop, lat time.Duration) {
	r.ops.Add(1)
	if r.phase.Load() != phaseMeasure {
		return
	}
	s := &r.stats[l.Index()]
	s.ops++
	s.hist.record(lat)
}

// now is the generator's clock for latencies.
func now() int64 { return time.Now().UnixNano() }

// fillPattern writes the bytes connection id expects in every message: a
// pattern that differs between connections, so a reply that reaches the
// wrong connection is caught as surely as a corrupted one.
func fillPattern(p []byte, id int) {
	for i := range p {
		p[i] = byte(id*131 + i*7 + 1)
	}
}

// stamp writes seq into the first 8 bytes of a message (little-endian), so
// lost, repeated or reordered messages are caught too.
func stamp(msg []byte, seq uint64) {
	for i := range 8 {
		msg[i] = byte(seq >> (8 * i))
	}
}

// matchMessage reports whether b equals the bytes of message seq from
// offset off: its stamp, then pattern pat.
func matchMessage(b []byte, seq uint64, off int, pat []byte) bool {
	for len(b) > 0 && off < 8 {
		if b[0] != byte(seq>>(8*off)) {
			return false
		}
		b, off = b[1:], off+1
	}
	return bytes.Equal(b, pat[off:off+len(b)])
}

// echoProto drives the echo workloads (ping-pong, pipelined, streaming and
// idle); every connection's state is an *echoConn in its context.
type echoProto struct {
	loop.BaseProtocol
	r *loadRun
}

// echoConn is one echo connection's state. Loop goroutine only.
type echoConn struct {
	id     int
	seq    uint64  // next message to send
	ack    uint64  // next message expected back
	off    int     // bytes of message ack verified so far
	sentAt []int64 // send time of message s at s % depth
	pat    []byte  // the connection's pattern, one message long
	out    []byte  // send scratch, depth messages
	over   bool    // finished: no more sends, closes are expected
}

var _ loop.Protocol = (*echoProto)(nil)

// OnOpen sends the first messages.
func (p *echoProto) OnOpen(c *conn.Conn) {
	w := p.r.w
	ec := &echoConn{
		id:     int(p.r.ids.Add(1)),
		sentAt: make([]int64, w.Depth),
		pat:    make([]byte, w.Size),
		out:    make([]byte, w.Size*w.Depth),
	}
	fillPattern(ec.pat, ec.id)
	c.SetContext(ec)
	p.r.active.Add(1)
	if !p.r.noteTLS(c) {
		ec.over = true
		p.r.done()
		c.Close()
		return
	}
	p.send(c, ec, now())
}

// send tops up the messages in flight: a new batch of depth messages once
// the last batch is back, or (streaming) as many as came back.
func (p *echoProto) send(c *conn.Conn, ec *echoConn, t int64) {
	w := p.r.w
	inflight := int(ec.seq - ec.ack)
	if p.r.phase.Load() == phaseStop || (w.Kind == kindIdle && ec.seq > 0) {
		if inflight == 0 && !ec.over {
			ec.over = true
			if w.Kind == kindIdle {
				p.r.ready.Add(1)
				return // stays open, idle, until the run is torn down
			}
			p.r.done()
			c.Close()
		}
		return
	}
	k := 0
	switch {
	case w.Window:
		k = w.Depth - inflight
	case inflight == 0:
		k = w.Depth
	}
	if w.Kind == kindIdle {
		k = min(k, 1)
	}
	if k == 0 {
		return
	}
	b := ec.out[:k*w.Size]
	for i := range k {
		msg := b[i*w.Size : (i+1)*w.Size]
		copy(msg, ec.pat)
		stamp(msg, ec.seq)
		ec.sentAt[ec.seq%uint64(w.Depth)] = t
		ec.seq++
	}
	if _, err := c.Write(b); err != nil {
		p.r.fail(fmt.Errorf("write: %w", err))
	}
}

// OnData checks every byte that came back and times each whole message.
func (p *echoProto) OnData(c *conn.Conn) {
	ec := c.Context().(*echoConn)
	w := p.r.w
	in, _ := c.Next(0)
	t := now()
	l := loop.Of(c)
	for len(in) > 0 {
		if ec.ack == ec.seq {
			p.r.fail(fmt.Errorf("%w: conn %d: %d bytes nobody sent", errMismatch, ec.id, len(in)))
			c.Close()
			return
		}
		n := min(len(in), w.Size-ec.off)
		if !matchMessage(in[:n], ec.ack, ec.off, ec.pat) {
			p.r.fail(fmt.Errorf("%w: conn %d message %d: echo differs at byte %d..%d", errMismatch, ec.id, ec.ack, ec.off, ec.off+n))
			c.Close()
			return
		}
		in, ec.off = in[n:], ec.off+n
		if ec.off == w.Size {
			p.r.completed(l, time.Duration(t-ec.sentAt[ec.ack%uint64(w.Depth)]))
			ec.ack++
			ec.off = 0
			if ec.ack == 1 && w.Kind == kindEcho {
				p.r.ready.Add(1)
			}
		}
	}
	if c.PeerClosed() && !ec.over {
		p.r.fail(fmt.Errorf("conn %d: server closed the connection with %d messages unanswered", ec.id, ec.seq-ec.ack))
		c.Close()
		return
	}
	p.send(c, ec, t)
}

// OnClose reports a connection the server closed or reset.
func (p *echoProto) OnClose(c *conn.Conn, err error) {
	ec, _ := c.Context().(*echoConn)
	if ec == nil || ec.over {
		return
	}
	p.r.fail(fmt.Errorf("conn %d closed before its replies arrived: %w", ec.id, err))
	ec.over = true
	p.r.done()
}

// dialAll opens n connections served by p, spread over the generator's
// loops, with at most parallel dials in flight. It stops at the first error.
func dialAll(ctx context.Context, srv *loop.Server, r *loadRun, p loop.Protocol, n, parallel int) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs error
	)
	for range min(parallel, n) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && ctx.Err() == nil && r.failure() == nil {
				if _, err := srv.Dial(ctx, "tcp", r.addr, p, r.dialOpts...); err != nil {
					mu.Lock()
					errs = errors.Join(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if errs != nil {
		return fmt.Errorf("dial: %w", errs)
	}
	return ctx.Err()
}

// slot is one client of the churn and session workloads: it dials, runs
// one exchange, closes, and dials again until the run stops. Loop goroutine
// only (its loop's).
type slot struct {
	loop.BaseProtocol
	r     *loadRun
	l     *loop.Loop
	id    int
	seq   uint64 // churn: the message stamp of the current connection
	start int64  // when the current connection's dial began
	step  int    // churn: bytes echoed; session: reply being read
	got   int    // session: bytes of that reply checked
	ok    bool   // the current exchange completed correctly
	msg   []byte // churn: the message; session: unused
	pat   []byte // churn: the pattern
}

var _ loop.Protocol = (*slot)(nil)

// dial starts the slot's next connection.
func (s *slot) dial() {
	if s.r.phase.Load() == phaseStop || s.r.failure() != nil || s.r.ctx.Err() != nil {
		s.r.done()
		return
	}
	s.start, s.step, s.got, s.ok = now(), 0, 0, false
	s.l.Dial(s.r.ctx, "tcp", s.r.addr, s, func(_ *conn.Conn, err error) {
		if err != nil {
			s.r.fail(fmt.Errorf("slot %d: %w", s.id, err))
			s.r.done()
		}
	}, s.r.dialOpts...)
}

// OnOpen sends the churn request (the session waits for the greeting).
func (s *slot) OnOpen(c *conn.Conn) {
	if s.r.w.Kind != kindChurn {
		return
	}
	if !s.r.noteTLS(c) {
		c.Close() // the run has failed; OnClose ends the slot
		return
	}
	copy(s.msg, s.pat)
	stamp(s.msg, s.seq)
	if _, err := c.Write(s.msg); err != nil {
		s.r.fail(fmt.Errorf("slot %d: write: %w", s.id, err))
	}
}

// OnData checks the answer.
func (s *slot) OnData(c *conn.Conn) {
	in, _ := c.Next(0)
	if s.r.w.Kind == kindChurn {
		s.churnData(c, in)
	} else {
		s.sessionData(c, in)
	}
}

func (s *slot) churnData(c *conn.Conn, in []byte) {
	if len(in) > len(s.msg)-s.step || !matchMessage(in, s.seq, s.step, s.pat) {
		s.r.fail(fmt.Errorf("%w: churn slot %d: echo differs at byte %d", errMismatch, s.id, s.step))
		c.Close()
		return
	}
	s.step += len(in)
	if s.step == len(s.msg) {
		s.ok = true
		s.r.completed(s.l, time.Duration(now()-s.start))
		c.SetLinger(0) // a reset: no TIME_WAIT to exhaust the ephemeral ports
		c.Close()
		return
	}
	if c.PeerClosed() {
		c.Close()
	}
}

func (s *slot) sessionData(c *conn.Conn, in []byte) {
	replies := &s.r.replies
	for len(in) > 0 {
		if s.step == len(replies) {
			s.r.fail(fmt.Errorf("%w: session slot %d: %q after the 221 reply", errMismatch, s.id, in))
			c.Close()
			return
		}
		want := replies[s.step][s.got:]
		n := min(len(in), len(want))
		if !bytes.Equal(in[:n], []byte(want[:n])) {
			s.r.fail(fmt.Errorf("%w: session slot %d: got %q, want %q", errMismatch, s.id, in[:n], want[:n]))
			c.Close()
			return
		}
		in, s.got = in[n:], s.got+n
		if s.got == len(replies[s.step]) {
			if s.step < len(s.r.commands) {
				c.Write([]byte(s.r.commands[s.step]))
			}
			s.step, s.got = s.step+1, 0
		}
	}
	if c.PeerClosed() {
		if s.step == len(replies) {
			s.ok = true
			s.r.completed(s.l, time.Duration(now()-s.start))
		}
		c.Close()
	}
}

// OnClose checks the exchange completed and dials the next connection.
func (s *slot) OnClose(_ *conn.Conn, err error) {
	if !s.ok {
		s.r.fail(fmt.Errorf("slot %d: connection ended before the exchange completed (step %d): %v", s.id, s.step, err))
		s.r.done()
		return
	}
	s.seq++
	s.dial()
}

// startSlots starts n slots spread over the generator's loops.
func startSlots(srv *loop.Server, r *loadRun, n int) error {
	loops := srv.Loops()
	for i := range n {
		l := loops[i%len(loops)]
		s := &slot{r: r, l: l, id: i}
		if r.w.Kind == kindChurn {
			s.msg, s.pat = make([]byte, r.w.Size), make([]byte, r.w.Size)
			fillPattern(s.pat, i)
		}
		r.active.Add(1)
		if err := l.Submit(s.dial); err != nil {
			return fmt.Errorf("start slot: %w", err)
		}
	}
	return nil
}
