package loop

import "github.com/reactorkit/reactor/conn"

// Protocol is what a user implements to serve connections. Every method runs
// on the connection's event-loop goroutine, one at a time per loop, and must
// not block: hand blocking work (disk, DNS, bcrypt, TLS handshakes) to a
// goroutine that reports back with the goroutine-safe calls (Conn.AsyncWrite,
// Conn.Wake, Conn.Submit, Loop.Submit). One Protocol value serves all the
// connections of its listener, across loops, so state it keeps outside
// Conn.SetContext must be goroutine-safe.
type Protocol interface {
	// OnOpen runs once when the connection is accepted or dialed and
	// registered, before any data. Loop goroutine only.
	OnOpen(c *conn.Conn)
	// OnData runs when inbound bytes are buffered (and once more after the
	// peer's FIN, with c.PeerClosed() true, and after c.Wake). Consume what
	// forms whole frames with Next, Discard or Read; leave the rest, and it is
	// kept for the next call. Slices from Peek and Next are valid only until
	// OnData returns. Loop goroutine only.
	OnData(c *conn.Conn)
	// OnWritable runs when queued outbound bytes fell to the low watermark
	// after crossing the high watermark; reading from the peer has resumed.
	// Loop goroutine only.
	OnWritable(c *conn.Conn)
	// OnClose runs once, last; err is nil for a clean close and the cause
	// otherwise (conn.ErrIdleTimeout, a reset, …). Loop goroutine only.
	OnClose(c *conn.Conn, err error)
}

// ShutdownHandler is an optional interface for a Protocol: OnShutdown runs on
// each of its open connections when the server starts a graceful shutdown,
// before idle connections are closed, so the protocol can say goodbye (FTP's
// 421) or finish what it is doing.
type ShutdownHandler interface {
	// OnShutdown runs once on each open connection when the server's
	// shutdown begins. Loop goroutine only.
	OnShutdown(c *conn.Conn)
}

// BaseProtocol is a Protocol whose methods do nothing. Embed it and implement
// only the callbacks you need.
type BaseProtocol struct{}

// OnOpen does nothing. Loop goroutine only.
func (BaseProtocol) OnOpen(*conn.Conn) {}

// OnData discards everything buffered, so a protocol that does not read does
// not trip the inbound limit. Loop goroutine only.
func (BaseProtocol) OnData(c *conn.Conn) { c.Discard(0) }

// OnWritable does nothing. Loop goroutine only.
func (BaseProtocol) OnWritable(*conn.Conn) {}

// OnClose does nothing. Loop goroutine only.
func (BaseProtocol) OnClose(*conn.Conn, error) {}

var (
	_ Protocol     = BaseProtocol{}
	_ conn.Handler = Protocol(nil)
)
