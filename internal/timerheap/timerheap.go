// Package timerheap keeps an event loop's timers in a binary min-heap ordered
// by deadline on the monotonic clock: O(log n) to add, reset or stop a timer,
// O(1) to find the next one due.
//
// A Heap and its Timers belong to one goroutine (the loop's); nothing here is
// safe for concurrent use.
package timerheap

// Timer is one scheduled call. The zero Timer is unscheduled. A Timer may be
// embedded in a larger struct, so a connection's timeouts cost no allocation.
type Timer struct {
	when  int64  // deadline in the heap's clock (nanoseconds); valid while scheduled
	index int32  // position in the heap plus one; 0 when not scheduled
	f     func() // what to run when due; set by Init or Heap.AfterFunc
	heap  *Heap  // the heap it was scheduled on, for Stop; nil until scheduled
}

// Init sets the function t runs when due. It must not be called while t is
// scheduled.
func (t *Timer) Init(f func()) { t.f = f }

// Scheduled reports whether t is waiting to run.
func (t *Timer) Scheduled() bool { return t.index > 0 }

// When returns t's deadline; it is meaningful only while t is scheduled.
func (t *Timer) When() int64 { return t.when }

// Stop unschedules t and reports whether it was scheduled (false: it already
// ran or was stopped). A stopped timer never runs. Loop goroutine only.
func (t *Timer) Stop() bool {
	if t.index == 0 {
		return false
	}
	t.heap.remove(t)
	return true
}

// Heap is a min-heap of timers.
type Heap struct {
	items []*Timer
}

// Len returns the number of scheduled timers.
func (h *Heap) Len() int { return len(h.items) }

// Next returns the earliest deadline and true, or false when no timer is
// scheduled.
func (h *Heap) Next() (int64, bool) {
	if len(h.items) == 0 {
		return 0, false
	}
	return h.items[0].when, true
}

// AfterFunc schedules a new timer that runs f at when.
func (h *Heap) AfterFunc(when int64, f func()) *Timer {
	t := &Timer{f: f}
	h.Schedule(t, when)
	return t
}

// Schedule (re)schedules t to run at when; a scheduled t is moved. A timer
// belongs to one heap for its whole life.
func (h *Heap) Schedule(t *Timer, when int64) {
	if t.index > 0 {
		if t.heap != h {
			panic("timerheap: timer moved between heaps")
		}
		old := t.when
		t.when = when
		i := int(t.index - 1)
		if when < old {
			h.up(i)
		} else {
			h.down(i)
		}
		return
	}
	t.heap, t.when = h, when
	h.items = append(h.items, t)
	t.index = int32(len(h.items))
	h.up(len(h.items) - 1)
}

// RunDue runs, in deadline order, every timer due at now, including timers
// that those calls schedule for now or earlier. Each timer is unscheduled
// before its function runs, so the function may reschedule it.
func (h *Heap) RunDue(now int64) {
	for len(h.items) > 0 && h.items[0].when <= now {
		t := h.items[0]
		h.remove(t)
		t.f()
	}
}

func (h *Heap) remove(t *Timer) {
	i := int(t.index - 1)
	last := len(h.items) - 1
	if i != last {
		h.swap(i, last)
	}
	h.items[last] = nil
	h.items = h.items[:last]
	t.index = 0
	if i != last {
		h.down(i)
		h.up(i)
	}
	// Give back memory after a burst of timers, keeping room to regrow.
	if c := cap(h.items); c > 1024 && len(h.items) < c/4 {
		h.items = append([]*Timer(nil), h.items...)
	}
}

func (h *Heap) less(i, j int) bool { return h.items[i].when < h.items[j].when }

func (h *Heap) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index = int32(i + 1)
	h.items[j].index = int32(j + 1)
}

func (h *Heap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h *Heap) down(i int) {
	n := len(h.items)
	for {
		smallest := i
		if l := 2*i + 1; l < n && h.less(l, smallest) {
			smallest = l
		}
		if r := 2*i + 2; r < n && h.less(r, smallest) {
			smallest = r
		}
		if smallest == i {
			return
		}
		h.swap(i, smallest)
		i = smallest
	}
}
