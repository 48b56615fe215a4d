package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram is a log-linear latency histogram in the manner of HdrHistogram:
// values (nanoseconds) are grouped by their power of two, and each power of
// two is split into linear buckets (32 of them above 64 ns), so a quantile
// is reported as its bucket's middle, within 1.6 % of the true value at any
// magnitude, with fixed memory and O(1) recording. Not goroutine-safe: each event loop
// of the load generator records into its own and they are merged after.
type histogram struct {
	counts [maxExp + 1][subBuckets]uint64
	n      uint64
	max    int64
}

const (
	subBits    = 6
	subBuckets = 1 << subBits // linear buckets per power of two
	maxExp     = 40           // 2^(40+6) ns is about 19 hours: more than any run
)

// bucket returns the coordinates of v (v >= 0).
func bucket(v int64) (exp, sub int) {
	if v < subBuckets {
		return 0, int(v)
	}
	e := bits.Len64(uint64(v)) - subBits // v >> e is in [subBuckets/2, subBuckets)
	if e > maxExp {
		return maxExp, subBuckets - 1
	}
	return e, int(v >> uint(e))
}

// lowest returns the smallest value of a bucket.
func lowest(exp, sub int) int64 {
	if exp == 0 {
		return int64(sub)
	}
	return int64(sub) << uint(exp)
}

// record adds one value.
func (h *histogram) record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	e, s := bucket(v)
	h.counts[e][s]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

// merge adds o's values to h.
func (h *histogram) merge(o *histogram) {
	for e := range h.counts {
		for s := range h.counts[e] {
			h.counts[e][s] += o.counts[e][s]
		}
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// count returns the number of values recorded.
func (h *histogram) count() uint64 { return h.n }

// quantile returns the value at quantile q (0 < q <= 1): the middle of the
// bucket holding it, or the exact maximum for q = 1.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for e := range h.counts {
		for s := range h.counts[e] {
			seen += h.counts[e][s]
			if seen >= rank {
				lo := lowest(e, s)
				width := int64(1)
				if e > 0 {
					width = int64(1) << uint(e)
				}
				return time.Duration(min(lo+width/2, h.max))
			}
		}
	}
	return time.Duration(h.max)
}
