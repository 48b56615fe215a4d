package loop

import (
	"fmt"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/poller"
)

// LoopStats is a snapshot of one loop's figures. The totals count since the
// server started.
type LoopStats struct {
	Loop     int    // the loop's index; -1 in Stats.Total
	Open     int64  // connections open now
	Accepted uint64 // connections accepted (Listen) so far
	Dialed   uint64 // connections dialed (Dial) so far
	Closed   uint64 // connections closed so far
	BytesIn  uint64 // bytes read from sockets
	BytesOut uint64 // bytes written to sockets
	Queued   int64  // outbound bytes queued, not yet sent
	Timers   int64  // timers armed (connection timeouts count one per connection)

	Uptime time.Duration // since the loop started
	// The timing figures are kept only while stall detection is on
	// (WithStallThreshold above 0, the default): they come from the same
	// clock reads.
	Busy            time.Duration // time spent handling events, tasks and timers
	BusyFraction    float64       // Busy / Uptime
	LongestCallback time.Duration // the longest single event, task or timer pass
	Stalls          uint64        // callbacks that ran longer than the stall threshold
}

// Stats is a snapshot of a server's loops.
type Stats struct {
	Backend string      // the poller backend, poller.Backend
	Loops   []LoopStats // one per loop
	Total   LoopStats   // the sums (Uptime, Busy and LongestCallback: the maximum)
}

// Stats returns the server's figures. It reads counters the loops keep
// with atomic operations, so it never waits for a loop (a stalled one
// included). Goroutine-safe.
func (s *Server) Stats() Stats {
	st := Stats{Backend: poller.Backend, Total: LoopStats{Loop: -1}}
	for _, l := range s.loops {
		ls := l.stats()
		st.Loops = append(st.Loops, ls)
		t := &st.Total
		t.Open += ls.Open
		t.Accepted += ls.Accepted
		t.Dialed += ls.Dialed
		t.Closed += ls.Closed
		t.BytesIn += ls.BytesIn
		t.BytesOut += ls.BytesOut
		t.Queued += ls.Queued
		t.Timers += ls.Timers
		t.Uptime = max(t.Uptime, ls.Uptime)
		t.Busy += ls.Busy
		t.LongestCallback = max(t.LongestCallback, ls.LongestCallback)
		t.Stalls += ls.Stalls
	}
	if st.Total.Uptime > 0 && len(s.loops) > 0 {
		st.Total.BusyFraction = float64(st.Total.Busy) / float64(st.Total.Uptime) / float64(len(s.loops))
	}
	return st
}

func (l *Loop) stats() LoopStats {
	ls := LoopStats{
		Loop:            l.index,
		Open:            l.open.Load(),
		Accepted:        l.counts.accepted.Load(),
		Dialed:          l.counts.dialed.Load(),
		Closed:          l.counts.closed.Load(),
		BytesIn:         l.counters.BytesIn.Load(),
		BytesOut:        l.counters.BytesOut.Load(),
		Queued:          l.counters.Queued.Load(),
		Timers:          l.counts.timers.Load(),
		Uptime:          time.Since(l.start),
		Busy:            time.Duration(l.counts.busy.Load()),
		LongestCallback: time.Duration(l.counts.longest.Load()),
		Stalls:          l.counts.stalls.Load(),
	}
	if ls.Uptime > 0 {
		ls.BusyFraction = float64(ls.Busy) / float64(ls.Uptime)
	}
	return ls
}

// timed runs one unit of loop work (an event, or a wake-up's tasks and
// timers), adds its duration to the loop's busy time and logs it as a stall
// when it ran longer than the threshold. what names the code that ran, for
// the log; it is only called then.
func (l *Loop) timed(work func(), what func() string) {
	if l.server.set.stallThreshold <= 0 {
		work() // no stall detection: no clock reads either
		return
	}
	start := l.Now()
	l.counts.busySince.Store(start)
	work()
	d := l.Now() - start
	l.counts.busySince.Store(0)
	if n := int64(l.timers.Len()); n != l.lastTimers {
		l.lastTimers = n
		l.counts.timers.Store(n)
	}
	l.counts.busy.Add(d)
	if d > l.counts.longest.Load() {
		l.counts.longest.Store(d)
	}
	if th := l.server.set.stallThreshold; th > 0 && d > int64(th) {
		l.counts.stalls.Add(1)
		l.logger.Warn("reactor: a callback blocked its event loop",
			"code", what(), "took", time.Duration(d), "threshold", th)
	}
}

// handlerName names the protocol behind an event handler, for stall logs.
func handlerName(h conn.EventHandler) string {
	switch h := h.(type) {
	case conn.Drainer:
		return fmt.Sprintf("%T (connection fd %d)", h.Conn().Handler(), h.Conn().Fd())
	case *acceptor:
		return fmt.Sprintf("%T (accepting on %v)", h.ln.p, h.ln.addr)
	case *dialer:
		return fmt.Sprintf("%T (dialing %s)", h.p, h.address)
	}
	return fmt.Sprintf("%T", h)
}

// watchdog reports loops that have been busy with one unit of work for
// longer than the stall threshold while it is still running, so a callback
// that never returns is found too. It runs until stop is closed.
func (s *Server) watchdog(stop <-chan struct{}) {
	th := s.set.stallThreshold
	tick := time.NewTicker(max(th/2, 10*time.Millisecond))
	defer tick.Stop()
	reported := make([]int64, len(s.loops)) // busySince already reported, per loop
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for i, l := range s.loops {
			since := l.counts.busySince.Load()
			if since == 0 || since == reported[i] || l.Now()-since < int64(th) {
				continue
			}
			reported[i] = since
			l.logger.Warn("reactor: event loop blocked, still running",
				"for", time.Duration(l.Now()-since), "threshold", th)
		}
	}
}
