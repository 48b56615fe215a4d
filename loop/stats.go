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
	// The timing figures are kept while stall detection is on
	// (WithStallThreshold above 0, the default). Busy is estimated from one
	// unit of work in 16, timed with the clock; LongestCallback is the
	// longest unit timed or reported as a stall (a stall's time counts from
	// when the watchdog first saw it running, so it reads at least the
	// threshold but may be short of the callback's time by half a
	// threshold, more when the watchdog goroutine waits for a CPU).
	Busy            time.Duration // time spent handling events, tasks and timers
	BusyFraction    float64       // Busy / Uptime
	LongestCallback time.Duration // the longest single event, task or timer pass
	Stalls          uint64        // units of work that ran longer than the stall threshold
}

// Stats is a snapshot of a server's loops.
type Stats struct {
	Backend string      // the poller backend, poller.Backend
	Loops   []LoopStats // one per loop
	Total   LoopStats   // the sums (Uptime, Busy and LongestCallback: the maximum)
}

// Stats returns the server's figures. It reads counters the loops keep
// with atomic operations, so it never waits for a loop (a stalled one
// included). Safe for concurrent use.
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

// timingSample: one unit of loop work in this many is timed with the clock,
// for the busy and longest-callback figures. Two clock reads for every
// event cost about 2 % of a loopback echo server's CPU; one in sixteen costs
// nothing measurable and estimates busy time as well under load.
const timingSample = 16

// timed runs one unit of loop work (an event, or a wake-up's tasks and
// timers). It marks the unit in seq for the stall watchdog, times one unit
// in timingSample, and, when the watchdog has reported the unit as a stall,
// logs it once it ends with what names the code that ran (what is only
// called then).
func (l *Loop) timed(work func(), what func() string) {
	if l.server.set.stallThreshold <= 0 {
		work() // no stall detection and no timing
		return
	}
	l.counts.seq.Add(1) // odd: a unit runs
	l.sampleTick++
	if l.sampleTick%timingSample != 0 {
		work()
	} else {
		start := l.Now()
		work()
		d := l.Now() - start
		l.counts.busy.Add(d * timingSample)
		l.noteLongest(d)
	}
	l.counts.seq.Add(1) // even: idle
	if n := int64(l.timers.Len()); n != l.lastTimers {
		l.lastTimers = n
		l.counts.timers.Store(n)
	}
	if from := l.counts.stallFrom.Load(); from != 0 {
		l.counts.stallFrom.Store(0)
		d := l.Now() - from
		l.noteLongest(d)
		l.logger.Warn("reactor: a callback blocked its event loop",
			"code", what(), "took", time.Duration(d).Round(time.Millisecond), "threshold", l.server.set.stallThreshold)
	}
}

func (l *Loop) noteLongest(d int64) {
	if d > l.counts.longest.Load() {
		l.counts.longest.Store(d)
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

// watchdog finds units of loop work that run longer than the stall
// threshold, by sampling each loop's seq every half threshold: a unit still
// running with the same seq as when first seen has run at least that long.
// It logs the loop as blocked while it still is (so a callback that never
// returns is found too), counts the stall, and leaves the start it saw in
// stallFrom, so the loop logs the protocol and the time taken when the unit
// ends. It runs until stop is closed.
func (s *Server) watchdog(stop <-chan struct{}) {
	th := s.set.stallThreshold
	tick := time.NewTicker(max(th/2, 5*time.Millisecond))
	defer tick.Stop()
	type seen struct {
		seq      uint64
		at       int64 // Now() when seq was first seen running
		reported bool
	}
	last := make([]seen, len(s.loops))
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for i, l := range s.loops {
			seq, now := l.counts.seq.Load(), l.Now()
			if seq%2 == 0 || seq != last[i].seq {
				last[i] = seen{seq: seq, at: now}
				continue
			}
			if last[i].reported || now-last[i].at < int64(th) {
				continue
			}
			last[i].reported = true
			l.counts.stalls.Add(1)
			l.counts.stallFrom.Store(last[i].at)
			l.logger.Warn("reactor: event loop blocked, still running",
				"for_at_least", time.Duration(now-last[i].at).Round(time.Millisecond), "threshold", th)
		}
	}
}
