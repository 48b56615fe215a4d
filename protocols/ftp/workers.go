package ftp

import (
	"log/slog"
	"runtime/debug"
	"sync"
)

// workers is a bounded pool of goroutines for the work an event loop must
// not do: opening, listing, reading and writing files, checking bcrypt
// hashes. Jobs hand their results back to the loop themselves (see
// session.post). Goroutines start on demand, at most max of them, and live
// until close; the queue is unbounded but each session keeps at most one job
// of each kind queued, so it is bounded by the number of sessions.
//
// Its methods are goroutine-safe.
type workers struct {
	max    int          // most goroutines; immutable
	logger *slog.Logger // immutable

	// mu guards the fields below; cond signals a queued job or close.
	mu      sync.Mutex
	cond    sync.Cond
	queue   []func()
	running int  // goroutines started and not exited
	idle    int  // goroutines waiting for a job
	closed  bool // close began: no new jobs; goroutines exit once the queue is empty

	wg sync.WaitGroup // one per running goroutine
}

func newWorkers(max int, logger *slog.Logger) *workers {
	w := &workers{max: max, logger: logger}
	w.cond.L = &w.mu
	return w
}

// Go queues fn to run on a pool goroutine. It reports false, and runs
// nothing, once close has begun.
func (w *workers) Go(fn func()) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.queue = append(w.queue, fn)
	switch {
	case w.idle > 0:
		w.cond.Signal()
	case w.running < w.max:
		w.running++
		w.wg.Add(1)
		go w.run()
	}
	return true
}

// run is one pool goroutine.
func (w *workers) run() {
	defer w.wg.Done()
	w.mu.Lock()
	for {
		for len(w.queue) == 0 && !w.closed {
			w.idle++
			w.cond.Wait()
			w.idle--
		}
		if len(w.queue) == 0 {
			w.running--
			w.mu.Unlock()
			return
		}
		fn := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.mu.Unlock()
		w.safely(fn)
		w.mu.Lock()
	}
}

// safely runs fn, logging a panic instead of losing the goroutine.
func (w *workers) safely(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			w.logger.Error("ftp: panic in a worker job", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// close refuses new jobs, lets the queued ones run, and waits for every
// goroutine to exit.
func (w *workers) close() {
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	w.wg.Wait()
}
