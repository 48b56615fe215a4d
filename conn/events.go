package conn

import (
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/internal/sock"
	"github.com/reactorkit/reactor/poller"
)

// driver is the face of a Conn that its owner drives: poller events, server
// drain and abort. It is a separate type so these methods are not part of
// Conn's API; Owner.Register receives it as an EventHandler.
type driver Conn

// Drainer is implemented by the EventHandler of a connection: the loop uses
// it at server shutdown.
type Drainer interface {
	// Conn returns the connection. Loop goroutine only.
	Conn() *Conn
	// Drain starts a graceful close: the connection reads what the kernel
	// holds, and closes once nothing is queued, nothing is left unconsumed
	// and a read found nothing more. Loop goroutine only.
	Drain()
	// Abort closes the connection at once with err. Loop goroutine only.
	Abort(err error)
}

var _ Drainer = (*driver)(nil)

// Conn implements Drainer.
func (d *driver) Conn() *Conn { return (*Conn)(d) }

// Drain implements Drainer.
func (d *driver) Drain() {
	c := (*Conn)(d)
	c.flags |= flagDraining
	c.checkDrained()
}

// Abort implements Drainer.
func (d *driver) Abort(err error) { (*Conn)(d).finish(err) }

// HandleEvent handles one poller event. Errors and hang-ups need no branch of
// their own: the poller reports them as readable and writable, and the read
// or write system call returns the cause. Queued bytes are written before
// reading, since writing may lift backpressure and let the read proceed.
func (d *driver) HandleEvent(ev poller.Event) {
	c := (*Conn)(d)
	if ev&poller.Writable != 0 && c.out.n > 0 {
		c.flush()
	}
	if ev&poller.Readable != 0 {
		c.readable()
	}
	if c.flags&flagDraining != 0 {
		c.checkDrained()
	}
}

// readable reads once from the socket into the loop's buffer and hands the
// bytes to OnData.
func (c *Conn) readable() {
	if c.flags&(flagUserPaused|flagBackpressure|flagPeerClosed|flagClosing|flagClosed) != 0 {
		return
	}
	buf := c.owner.ReadBuffer()
	rbuf := buf
	if c.tls != nil && !c.tls.handshaking {
		// The ciphertext stays in the first half, lent to the transport;
		// pumpTLS decrypts into the second.
		rbuf = buf[:len(buf)/2]
	}
	n, err := sock.Read(c.fd, rbuf)
	if err != nil {
		if err == unix.EAGAIN {
			c.flags |= flagReadDry
			return
		}
		c.finish(c.opError("read", err))
		return
	}
	c.flags &^= flagReadDry
	if c.flags&flagLingering != 0 {
		if n == 0 {
			c.finish(nil) // the peer's FIN: every byte we sent has reached it
			return
		}
		c.readSince = c.owner.Now() // discard, and wait for quiet again
		return
	}
	if n > 0 {
		c.owner.Counters().BytesIn.Add(uint64(n))
		if c.cfg.IdleTimeout > 0 {
			c.activeAt = c.owner.Now()
		}
	}
	if c.tls != nil {
		c.readTLS(n, buf)
		return
	}
	if n == 0 {
		c.peerEOF()
		return
	}
	if len(c.in) == 0 {
		c.in = buf[:n]
		c.flags |= flagBorrowed
	} else {
		if len(c.in)+n > c.cfg.MaxInbound {
			c.finish(ErrInboundLimit)
			return
		}
		c.in = append(c.in, buf[:n]...)
	}
	c.call(callData)
	c.afterData()
	if c.cfg.PoisonReadBuffer {
		poison(buf[:n])
	}
}

// poison overwrites b so that a protocol still holding a slice of the read
// buffer after its callback sees obvious garbage.
func poison(b []byte) {
	for i := range b {
		b[i] = 0xDB
	}
}

// afterData runs after every OnData: unconsumed bytes still borrowed from the
// loop's read buffer are copied into the connection's own buffer, an emptied
// buffer is released, and the read timeout is updated.
func (c *Conn) afterData() {
	if c.flags&flagClosed != 0 {
		return
	}
	if c.flags&flagBorrowed != 0 {
		c.flags &^= flagBorrowed
		if len(c.in) > c.cfg.MaxInbound {
			c.finish(ErrInboundLimit)
			return
		}
		if len(c.in) > 0 {
			c.in = append(make([]byte, 0, max(len(c.in), 512)), c.in...)
		}
	}
	if len(c.in) == 0 {
		c.in = nil
	}
	c.noteInbound()
}

// noteInbound starts the read timeout when unconsumed bytes appear and stops
// it when they are all consumed. It does not restart it for further bytes:
// a frame trickling in a byte at a time still times out.
func (c *Conn) noteInbound() {
	if c.cfg.ReadTimeout <= 0 {
		return
	}
	switch {
	case len(c.in) == 0 || c.flags&(flagUserPaused|flagBackpressure) != 0:
		c.readSince = 0
	case c.readSince == 0:
		c.readSince = c.owner.Now()
		c.armTimer()
	}
}

// peerEOF handles the peer's FIN: OnData runs once more with PeerClosed true,
// and the connection stays open, writable, until the protocol closes it or
// the half-close linger timeout passes.
func (c *Conn) peerEOF() {
	c.flags |= flagPeerClosed
	c.updateInterest()
	if c.flags&flagClosed != 0 {
		return
	}
	if c.cfg.HalfCloseTimeout > 0 {
		c.peerEOFAt = c.owner.Now()
	}
	c.call(callData)
	c.afterData()
	if c.flags&(flagClosing|flagClosed) != 0 {
		return
	}
	if c.flags&flagWriteShutDone != 0 {
		c.finish(nil) // both directions are done
		return
	}
	c.armTimer()
}

// checkDrained closes a draining connection once it has nothing queued,
// nothing unconsumed, and its last read found the socket empty. It reads
// (a bounded number of times) to find out, so a request already in the
// kernel's buffer is answered rather than reset.
func (c *Conn) checkDrained() {
	for range 16 {
		if c.flags&(flagClosing|flagClosed|flagBusy|flagLingering) != 0 || c.out.n > 0 || len(c.in) > 0 {
			return
		}
		if c.flags&(flagReadDry|flagPeerClosed|flagUserPaused) != 0 {
			c.drainClose()
			return
		}
		c.readable()
	}
	// Still reading after 16 rounds: look again after the loop's other work.
	c.owner.Submit(c.checkDrained)
}

// lingerQuiet is how long a drained connection's peer must stay silent
// after our FIN before the socket is closed without waiting for its FIN.
const lingerQuiet = time.Second

// drainClose ends a drained connection the way a server should end one
// whose peer did not ask for it (nginx's lingering close): FIN first, then
// read and discard until the peer's FIN or until it has been silent for
// lingerQuiet. Closing while a request the peer sent sits unread would make
// close(2) reset the connection, and a reset can destroy answers still on
// their way to the peer. The half-close timeout bounds the whole wait, and
// the shutdown's deadline bounds everything.
func (c *Conn) drainClose() {
	if c.flags&flagPeerClosed != 0 {
		c.Close()
		return
	}
	c.CloseWrite()
	if c.flags&flagClosed != 0 {
		return
	}
	c.flags |= flagLingering
	c.flags &^= flagUserPaused // discarding needs reading
	c.updateInterest()
	now := c.owner.Now()
	c.readSince = now
	if c.cfg.HalfCloseTimeout > 0 {
		c.peerEOFAt = now
	}
	c.armTimer()
}

// updateInterest asks the poller for what the connection needs now: reads
// unless paused, half-closed or closing; writes only while bytes are queued.
func (c *Conn) updateInterest() {
	if c.flags&flagClosed != 0 {
		return
	}
	want := poller.None
	if c.flags&(flagUserPaused|flagBackpressure|flagPeerClosed|flagClosing) == 0 {
		want |= poller.Read
	}
	if c.out.n > 0 {
		want |= poller.Write
	}
	if want == c.interest {
		return
	}
	if err := c.owner.SetInterest(c.fd, want); err != nil {
		c.finish(err)
		return
	}
	c.interest = want
}

// SetBusy marks the connection as having work in progress that its buffers
// do not show (a transfer on another connection, an answer being computed
// off the loop), so a graceful shutdown does not take it for idle; it waits
// until SetBusy(false) or the shutdown's deadline. Loop goroutine only.
func (c *Conn) SetBusy(busy bool) {
	if busy {
		c.flags |= flagBusy
		return
	}
	c.flags &^= flagBusy
	if c.flags&flagDraining != 0 {
		c.checkDrained()
	}
}

// Abort closes the connection at once: queued bytes are dropped and the peer
// gets a reset (SO_LINGER 0) rather than a FIN, so it knows the stream was
// cut. OnClose runs with err (nil is allowed). Loop goroutine only.
func (c *Conn) Abort(err error) {
	if c.flags&flagClosed != 0 {
		return
	}
	sock.SetLinger(c.fd, 0)
	c.finish(err)
}

// Close closes the connection: it stops reading, sends what is queued
// (waiting at most the write timeout for progress), closes the socket, then
// runs OnClose with a nil error. It is idempotent and returns nil; errors on
// the way reach OnClose instead. Loop goroutine only.
func (c *Conn) Close() error {
	if c.flags&(flagClosing|flagClosed) != 0 {
		return nil
	}
	c.closeNotify()
	c.flags |= flagClosing
	c.readSince, c.peerEOFAt = 0, 0
	if c.out.n == 0 {
		c.finish(nil)
		return nil
	}
	c.updateInterest()
	return nil
}

// CloseWrite half-closes the connection: once the queued bytes are sent, the
// peer reads EOF. Reading goes on; Write returns ErrClosed afterwards.
// Loop goroutine only.
func (c *Conn) CloseWrite() error {
	if c.flags&(flagClosing|flagClosed) != 0 {
		return ErrClosed
	}
	if c.flags&flagWriteShut != 0 {
		return nil
	}
	c.closeNotify()
	c.flags |= flagWriteShut
	if c.out.n == 0 {
		c.shutWrite()
	}
	return nil
}

// shutWrite sends the FIN of a CloseWrite whose queue has drained.
func (c *Conn) shutWrite() {
	c.flags |= flagWriteShutDone
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
		c.finish(c.opError("shutdown", err))
		return
	}
	if c.flags&flagPeerClosed != 0 {
		c.finish(nil)
	}
}

// finish releases the connection with cause err (nil for a clean close) and
// runs OnClose once. Everything that ends a connection comes here.
func (c *Conn) finish(err error) {
	if c.flags&flagClosed != 0 {
		return
	}
	c.flags |= flagClosed
	c.flags &^= flagClosing
	c.done.Store(true)
	c.timer.Stop()
	c.stopTimers()
	if c.tls != nil {
		c.tls.t.Close() // a handshake still waiting for input gives up
	}
	if cerr := c.owner.CloseFD(c.fd); cerr != nil {
		c.owner.Logger().Warn("reactor: closing socket", "fd", c.fd, "err", cerr)
	}
	c.out.release(c.owner.Pool())
	c.in = nil
	c.setQueued()
	c.owner.Closed(c)
	if c.flags&flagOpened != 0 {
		c.callClose(err)
	}
	c.handshakeAborted(err)
}

// opError wraps a system call's errno the way package net does, so callers
// can match the errno (syscall.ECONNRESET, …) with errors.Is.
func (c *Conn) opError(op string, err error) error {
	e := &net.OpError{Op: op, Net: c.network(), Err: os.NewSyscallError(op, err)}
	if c.extra != nil {
		e.Source, e.Addr = c.extra.local, c.extra.remote
	}
	return e
}

func (c *Conn) network() string {
	if c.flags&flagUnix != 0 {
		return "unix"
	}
	return "tcp"
}

// callback names the protocol callback being run, for panic reports.
type callback uint8

const (
	callOpen callback = iota
	callData
	callWritable
)

func (cb callback) String() string {
	return [...]string{"OnOpen", "OnData", "OnWritable"}[cb]
}

// call runs one protocol callback. A panic in it is logged and closes this
// connection only.
func (c *Conn) call(cb callback) {
	defer c.recoverFrom(cb)
	switch cb {
	case callOpen:
		c.h.OnOpen(c)
	case callData:
		c.h.OnData(c)
	case callWritable:
		c.h.OnWritable(c)
	}
}

func (c *Conn) recoverFrom(cb callback) {
	r := recover()
	if r == nil {
		return
	}
	err := &PanicError{Callback: cb.String(), Value: r, Stack: debug.Stack()}
	c.owner.Logger().Error("reactor: protocol callback panicked; closing its connection",
		"callback", err.Callback, "protocol", fmt.Sprintf("%T", c.h), "fd", c.fd, "panic", r, "stack", string(err.Stack))
	c.finish(err)
}

// callClose runs OnClose; a panic in it is logged and goes no further.
func (c *Conn) callClose(cause error) {
	defer func() {
		if r := recover(); r != nil {
			c.owner.Logger().Error("reactor: OnClose panicked",
				"protocol", fmt.Sprintf("%T", c.h), "fd", c.fd, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	c.h.OnClose(c, cause)
}
