package conn

import "time"

// A connection's timeouts share one timer, armed for the earliest deadline.
// Activity does not move the timer: each deadline is derived, when the timer
// fires, from the times the connection records (activeAt, readSince,
// writeSince, peerEOFAt), and the timer is re-armed for whatever is then
// next. So a busy connection costs a clock read per read or write, not a
// heap operation.

// deadline returns since+d, or 0 when the timeout is off or not running.
func deadline(since int64, d time.Duration) int64 {
	if since == 0 || d <= 0 {
		return 0
	}
	return since + int64(d)
}

// nextDeadline returns the earliest running deadline, or 0 for none.
func (c *Conn) nextDeadline() int64 {
	next := int64(0)
	for _, dl := range [...]int64{
		deadline(c.activeAt, c.cfg.IdleTimeout),
		deadline(c.readSince, c.readLimit()),
		deadline(c.writeSince, c.cfg.WriteTimeout),
		deadline(c.peerEOFAt, c.cfg.HalfCloseTimeout),
	} {
		if dl != 0 && (next == 0 || dl < next) {
			next = dl
		}
	}
	return next
}

// readLimit is what readSince counts against: the read timeout, or, while
// a drained connection lingers, the quiet period.
func (c *Conn) readLimit() time.Duration {
	if c.flags&flagLingering != 0 {
		return lingerQuiet
	}
	return c.cfg.ReadTimeout
}

// armTimer makes sure the timer fires no later than the next deadline.
func (c *Conn) armTimer() {
	if c.flags&flagClosed != 0 {
		return
	}
	next := c.nextDeadline()
	if next == 0 {
		return // a timer still armed finds nothing to do when it fires
	}
	if !c.timer.Scheduled() || next < c.timer.When() {
		c.owner.Schedule(&c.timer, next)
	}
}

// onTimer closes the connection with the error of a deadline that passed, or
// re-arms the timer.
func (c *Conn) onTimer() {
	if c.flags&flagClosed != 0 {
		return
	}
	now := c.owner.Now()
	expired := func(since int64, d time.Duration) bool {
		dl := deadline(since, d)
		return dl != 0 && dl <= now
	}
	lingering := c.flags&flagLingering != 0
	switch {
	case expired(c.writeSince, c.cfg.WriteTimeout):
		c.finish(ErrWriteTimeout)
	case lingering && (expired(c.readSince, lingerQuiet) || expired(c.peerEOFAt, c.cfg.HalfCloseTimeout)):
		c.finish(nil) // a drained connection's peer went quiet, or lingered its limit
	case !lingering && expired(c.readSince, c.cfg.ReadTimeout):
		c.finish(ErrReadTimeout)
	case expired(c.peerEOFAt, c.cfg.HalfCloseTimeout):
		c.finish(ErrHalfCloseTimeout)
	case expired(c.activeAt, c.cfg.IdleTimeout):
		c.finish(ErrIdleTimeout)
	default:
		c.armTimer()
	}
}

// ownConfig gives the connection a private copy of its Config before a
// per-connection setter changes it.
func (c *Conn) ownConfig() *Config {
	if c.flags&flagOwnConfig == 0 {
		cp := *c.cfg
		c.cfg = &cp
		c.flags |= flagOwnConfig
	}
	return c.cfg
}

// disabledIfZero maps a setter's "0 or less disables" to Config's negative.
func disabledIfZero(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// SetIdleTimeout sets this connection's idle timeout, counted from now; d <=
// 0 disables it. Loop goroutine only.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	c.ownConfig().IdleTimeout = disabledIfZero(d)
	if d > 0 {
		c.activeAt = c.owner.Now()
		// Re-arm from scratch: the new deadline may be later than the old.
		c.timer.Stop()
	}
	c.armTimer()
}

// SetReadTimeout sets how long unconsumed inbound bytes may wait for the rest
// of their frame; d <= 0 disables it. Loop goroutine only.
func (c *Conn) SetReadTimeout(d time.Duration) {
	c.ownConfig().ReadTimeout = disabledIfZero(d)
	c.readSince = 0
	c.noteInbound()
	c.armTimer()
}

// SetWriteTimeout sets how long queued bytes may make no progress; d <= 0
// disables it, and then Close waits for a flush as long as it takes.
// Loop goroutine only.
func (c *Conn) SetWriteTimeout(d time.Duration) {
	c.ownConfig().WriteTimeout = disabledIfZero(d)
	if c.out.n > 0 && d > 0 {
		c.writeSince = c.owner.Now()
	}
	c.armTimer()
}

// SetHalfCloseTimeout sets how long the connection stays open after the
// peer's FIN; d <= 0 disables it. Loop goroutine only.
func (c *Conn) SetHalfCloseTimeout(d time.Duration) {
	c.ownConfig().HalfCloseTimeout = disabledIfZero(d)
	c.armTimer()
}

// SetMaxInbound sets the most unconsumed inbound bytes this connection may
// hold (n <= 0 restores DefaultMaxInbound). Loop goroutine only.
func (c *Conn) SetMaxInbound(n int) {
	if n <= 0 {
		n = DefaultMaxInbound
	}
	c.ownConfig().MaxInbound = n
}
