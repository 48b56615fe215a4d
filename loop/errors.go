package loop

import (
	"errors"

	"github.com/reactorkit/reactor/conn"
)

// ErrOptionScope reports an option given to a call it does not apply to.
var ErrOptionScope = errors.New("loop: option does not apply here")

// The errors of package conn, repeated here for callers that import only
// loop. Each is the same value as its conn counterpart.
var (
	ErrClosed           = conn.ErrClosed
	ErrServerClosed     = conn.ErrServerClosed
	ErrIdleTimeout      = conn.ErrIdleTimeout
	ErrReadTimeout      = conn.ErrReadTimeout
	ErrWriteTimeout     = conn.ErrWriteTimeout
	ErrHalfCloseTimeout = conn.ErrHalfCloseTimeout
	ErrConnectTimeout   = conn.ErrConnectTimeout
	ErrInboundLimit     = conn.ErrInboundLimit
	ErrAsyncWriteLimit  = conn.ErrAsyncWriteLimit
	ErrPanic            = conn.ErrPanic
	ErrHandshakeTimeout = conn.ErrHandshakeTimeout
)
