package conn

import (
	"fmt"
	"net"
	"os"
)

// connError is a sentinel that also matches the standard errors it stands
// for, so callers can test with errors.Is against either.
type connError struct {
	msg       string
	timeout   bool    // reported by Timeout, for net.Error
	temporary bool    // reported by Temporary, for net.Error
	also      []error // further targets errors.Is matches
}

func (e *connError) Error() string { return e.msg }

// Timeout reports whether the error is a timeout, as net.Error asks.
func (e *connError) Timeout() bool { return e.timeout }

// Temporary is part of net.Error; no error a connection reports is
// temporary (only the TLS transport's internal would-block is).
func (e *connError) Temporary() bool { return e.temporary }

// Is reports whether target is one of the standard errors e stands for.
func (e *connError) Is(target error) bool {
	for _, a := range e.also {
		if target == a {
			return true
		}
	}
	return false
}

var _ net.Error = (*connError)(nil)

// The errors a connection reports, to OnClose and from its methods. Each is
// matched by errors.Is; the timeouts also match os.ErrDeadlineExceeded and
// report Timeout() true, and the closed errors also match net.ErrClosed.
var (
	// ErrClosed is returned by calls on a connection that is closed or
	// closing, and matches net.ErrClosed.
	ErrClosed error = &connError{msg: "conn: use of closed connection", also: []error{net.ErrClosed}}
	// ErrServerClosed closes connections still open when a server's drain
	// deadline passes, and refuses work submitted after shutdown began. It
	// matches net.ErrClosed.
	ErrServerClosed error = &connError{msg: "conn: server closed", also: []error{net.ErrClosed}}
	// ErrIdleTimeout closes a connection that moved no bytes in either
	// direction for its idle timeout.
	ErrIdleTimeout error = &connError{msg: "conn: idle timeout", timeout: true, also: []error{os.ErrDeadlineExceeded}}
	// ErrReadTimeout closes a connection whose unconsumed inbound bytes (an
	// incomplete frame) waited longer than its read timeout.
	ErrReadTimeout error = &connError{msg: "conn: read timeout: incomplete frame", timeout: true, also: []error{os.ErrDeadlineExceeded}}
	// ErrWriteTimeout closes a connection whose queued outbound bytes made no
	// progress for its write timeout.
	ErrWriteTimeout error = &connError{msg: "conn: write timeout: queued bytes made no progress", timeout: true, also: []error{os.ErrDeadlineExceeded}}
	// ErrHalfCloseTimeout closes a connection that stayed open for its
	// half-close linger timeout after the peer shut down its side.
	ErrHalfCloseTimeout error = &connError{msg: "conn: half-close linger timeout", timeout: true, also: []error{os.ErrDeadlineExceeded}}
	// ErrConnectTimeout ends a dial that did not connect within its connect
	// timeout.
	ErrConnectTimeout error = &connError{msg: "conn: connect timeout", timeout: true, also: []error{os.ErrDeadlineExceeded}}
	// ErrHandshakeTimeout closes a connection whose TLS handshake did not
	// finish within its handshake timeout.
	ErrHandshakeTimeout error = &connError{msg: "conn: TLS handshake timeout", timeout: true, also: []error{os.ErrDeadlineExceeded}}
	// ErrInboundLimit closes a connection whose unconsumed inbound bytes
	// exceeded its maximum.
	ErrInboundLimit error = &connError{msg: "conn: inbound limit exceeded"}
	// ErrAsyncWriteLimit is returned by AsyncWrite when the bytes waiting to
	// be sent would exceed the connection's async write limit.
	ErrAsyncWriteLimit error = &connError{msg: "conn: async write limit exceeded"}
	// ErrPanic matches the *PanicError that closes a connection whose
	// callback panicked.
	ErrPanic error = &connError{msg: "conn: callback panicked"}
	// ErrSendFileTLS is returned by SendFile on a TLS connection, whose bytes
	// must be encrypted on their way and so cannot go by sendfile(2).
	ErrSendFileTLS error = &connError{msg: "conn: SendFile cannot send a file over TLS; read it and Write it"}
	// ErrBlockingLinger is returned by SetLinger for a positive linger time,
	// which would block the event loop in close(2).
	ErrBlockingLinger error = &connError{msg: "conn: a positive SO_LINGER would block the event loop"}
)

// PanicError reports a panic recovered from a callback; it closes that
// connection only. errors.Is(err, ErrPanic) matches it.
type PanicError struct {
	Callback string // "OnOpen", "OnData", …
	Value    any    // the value passed to panic
	Stack    []byte // the panicking goroutine's stack
}

// Error names the callback and the panic value. Safe for concurrent use.
func (e *PanicError) Error() string {
	return fmt.Sprintf("conn: panic in %s: %v", e.Callback, e.Value)
}

// Is matches ErrPanic. Safe for concurrent use.
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// Unwrap returns the panic value when it is an error. Safe for concurrent use.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
