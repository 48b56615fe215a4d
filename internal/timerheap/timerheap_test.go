package timerheap

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRunDueOrder(t *testing.T) {
	tests := []struct {
		name  string
		whens []int64
		stop  []int // indexes of timers stopped before running
		now   int64
		want  []int // indexes that run, in order
		// anyOrder: timers with equal deadlines may run in any order.
		anyOrder bool
	}{
		{name: "in deadline order", whens: []int64{30, 10, 20}, now: 100, want: []int{1, 2, 0}},
		{name: "only due ones", whens: []int64{30, 10, 20}, now: 20, want: []int{1, 2}},
		{name: "stopped never run", whens: []int64{30, 10, 20}, stop: []int{2}, now: 100, want: []int{1, 0}},
		{name: "none due", whens: []int64{5}, now: 4, want: nil},
		{name: "equal deadlines all run", whens: []int64{7, 7, 7}, now: 7, want: []int{0, 1, 2}, anyOrder: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Heap
			var got []int
			timers := make([]*Timer, len(tt.whens))
			for i, w := range tt.whens {
				timers[i] = h.AfterFunc(w, func() { got = append(got, i) })
			}
			for _, i := range tt.stop {
				if !timers[i].Stop() {
					t.Fatalf("Stop(%d) = false for a scheduled timer", i)
				}
				if timers[i].Stop() {
					t.Fatalf("second Stop(%d) = true", i)
				}
			}
			h.RunDue(tt.now)
			if tt.anyOrder {
				slices.Sort(got)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ran %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRescheduleAndRunningTimerReschedules(t *testing.T) {
	var h Heap
	var got []string
	a := h.AfterFunc(10, func() { got = append(got, "a") })
	h.AfterFunc(20, func() { got = append(got, "b") })
	h.Schedule(a, 30) // move a after b
	var c *Timer
	n := 0
	c = h.AfterFunc(25, func() {
		got = append(got, "c")
		if n++; n < 3 {
			h.Schedule(c, c.When()+1) // a periodic timer rescheduling itself
		}
	})
	h.RunDue(100)
	want := []string{"b", "c", "c", "c", "a"}
	if !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	if h.Len() != 0 {
		t.Fatalf("Len = %d after all ran", h.Len())
	}
}

// TestAgainstModel applies random operations to a heap and to a plain list,
// and checks that both agree on what runs and in which order.
func TestAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Heap
	type entry struct {
		t    *Timer
		when int64
		live bool
	}
	var model []*entry
	var ran []int
	now := int64(0)
	for step := range 20000 {
		switch op := r.IntN(10); {
		case op < 5:
			id := len(model)
			e := &entry{when: now + r.Int64N(1000), live: true}
			e.t = h.AfterFunc(e.when, func() { ran = append(ran, id) })
			model = append(model, e)
		case op < 7 && len(model) > 0:
			e := model[r.IntN(len(model))]
			if got := e.t.Stop(); got != e.live {
				t.Fatalf("step %d: Stop = %v, model says live=%v", step, got, e.live)
			}
			e.live = false
		case op < 8 && len(model) > 0:
			e := model[r.IntN(len(model))]
			if e.live {
				e.when = now + r.Int64N(1000)
				h.Schedule(e.t, e.when)
			}
		default:
			now += r.Int64N(300)
			ran = ran[:0]
			h.RunDue(now)
			var want []int
			for id, e := range model {
				if e.live && e.when <= now {
					want = append(want, id)
					e.live = false
				}
			}
			gotSorted := slices.Clone(ran)
			slices.Sort(gotSorted)
			if !slices.Equal(gotSorted, want) {
				t.Fatalf("step %d: ran %v, want %v", step, gotSorted, want)
			}
			for i := 1; i < len(ran); i++ {
				if model[ran[i]].when < model[ran[i-1]].when {
					t.Fatalf("step %d: ran out of deadline order", step)
				}
			}
		}
	}
}

// BenchmarkScheduleStop measures one reschedule plus one stop-and-add with n
// timers armed; the cost per operation should grow as log n.
func BenchmarkScheduleStop(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(3, 4))
			var h Heap
			timers := make([]*Timer, n)
			for i := range timers {
				timers[i] = h.AfterFunc(r.Int64N(1e9), func() {})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				t := timers[i%n]
				h.Schedule(t, r.Int64N(1e9))
				t.Stop()
				h.Schedule(t, r.Int64N(1e9))
			}
		})
	}
}
