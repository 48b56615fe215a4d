package conn

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// drain reads the queue's bytes back in order, as writev would send them,
// consuming k bytes at a time.
func drain(q *outQueue, pool *BufferPool, k int) []byte {
	var out []byte
	for q.n > 0 {
		var got []byte
		for _, ch := range q.chunks {
			got = append(got, ch.b[ch.off:]...)
		}
		m := min(k, q.n)
		out = append(out, got[:m]...)
		q.consume(m, pool)
	}
	return out
}

func TestOutQueueOrderAndPooling(t *testing.T) {
	tests := []struct {
		name   string
		writes []int // sizes pushed
		owned  []bool
		step   int // bytes consumed at a time
	}{
		{name: "small writes share a chunk", writes: []int{10, 20, 30}, step: 7},
		{name: "crossing chunk boundaries", writes: []int{ChunkSize - 5, 10, ChunkSize, 3}, step: 1000},
		{name: "large write gets its own chunk", writes: []int{5, 3 * ChunkSize, 5}, step: ChunkSize / 2},
		{name: "owned large slices are not copied", writes: []int{2 * ChunkSize, 7}, owned: []bool{true, true}, step: 4096},
		{name: "one byte at a time", writes: []int{100, 1, 1}, step: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q outQueue
			var pool BufferPool
			var want []byte
			for i, n := range tt.writes {
				b := make([]byte, n)
				for j := range b {
					b[j] = byte(i*31 + j)
				}
				want = append(want, b...)
				if tt.owned != nil && tt.owned[i] {
					q.pushOwned(&pool, b)
				} else {
					q.push(&pool, b)
					clear(b) // the queue must have copied
				}
			}
			if q.n != len(want) {
				t.Fatalf("n = %d, want %d", q.n, len(want))
			}
			if got := drain(&q, &pool, tt.step); !bytes.Equal(got, want) {
				t.Fatal("bytes came out changed or reordered")
			}
			if q.chunks != nil || q.n != 0 {
				t.Fatalf("drained queue holds %d chunks, n=%d", len(q.chunks), q.n)
			}
			for _, b := range pool.free {
				if cap(b) != ChunkSize || len(b) != 0 {
					t.Fatalf("pool holds a chunk of len %d cap %d", len(b), cap(b))
				}
			}
		})
	}
}

func TestOutQueueRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var q outQueue
	var pool BufferPool
	var want, got []byte
	for range 600 {
		if r.IntN(3) > 0 {
			b := make([]byte, r.IntN(3*ChunkSize))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			want = append(want, b...)
			q.push(&pool, b)
			continue
		}
		if q.n == 0 {
			continue
		}
		m := 1 + r.IntN(q.n)
		var all []byte
		for _, ch := range q.chunks {
			all = append(all, ch.b[ch.off:]...)
		}
		got = append(got, all[:m]...)
		q.consume(m, &pool)
		if len(pool.free) > maxFreeChunks {
			t.Fatalf("pool grew to %d chunks", len(pool.free))
		}
	}
	got = append(got, drain(&q, &pool, ChunkSize)...)
	if !bytes.Equal(got, want) {
		t.Fatal("random pushes and partial sends reordered or changed bytes")
	}
}

func TestConfigNormalized(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want Config
	}{
		{name: "zero gets defaults", in: Config{}, want: Config{
			MaxInbound: DefaultMaxInbound, WriteHighWatermark: DefaultWriteHighWatermark,
			WriteLowWatermark: DefaultWriteHighWatermark / 4, AsyncWriteLimit: DefaultAsyncWriteLimit,
			WriteTimeout: DefaultWriteTimeout, HalfCloseTimeout: DefaultHalfCloseTimeout,
		}},
		{name: "low above high is clamped", in: Config{WriteHighWatermark: 100, WriteLowWatermark: 500}, want: Config{
			MaxInbound: DefaultMaxInbound, WriteHighWatermark: 100, WriteLowWatermark: 25,
			AsyncWriteLimit: DefaultAsyncWriteLimit, WriteTimeout: DefaultWriteTimeout, HalfCloseTimeout: DefaultHalfCloseTimeout,
		}},
		{name: "negative timeouts stay disabled", in: Config{WriteTimeout: -1, HalfCloseTimeout: -1}, want: Config{
			MaxInbound: DefaultMaxInbound, WriteHighWatermark: DefaultWriteHighWatermark,
			WriteLowWatermark: DefaultWriteHighWatermark / 4, AsyncWriteLimit: DefaultAsyncWriteLimit,
			WriteTimeout: -1, HalfCloseTimeout: -1,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Normalized(); got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
