package loop_test

import (
	"io"
	"testing"

	"github.com/reactorkit/reactor/loop"
)

// BenchmarkEcho64 measures the read → OnData → write path for 64-byte
// messages: one op is one message echoed (the client keeps depth messages in
// flight). allocs/op counts the whole process, client included; the server's
// path allocates nothing in steady state, so it reports 0.
func BenchmarkEcho64(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run(map[int]string{1: "pingpong", 16: "pipelined16"}[depth], func(b *testing.B) {
			_, addr := serve(b, echoProto{}, loop.WithLoops(1), loop.WithPoisonReadBuffer(false))
			c := dial(b, addr)
			msg := make([]byte, 64*depth)
			buf := make([]byte, 64*depth)
			// Warm up: the first messages grow buffers and tables.
			for range 100 {
				c.Write(msg)
				io.ReadFull(c, buf)
			}
			b.ReportAllocs()
			b.SetBytes(64)
			b.ResetTimer()
			for i := 0; i < b.N; i += depth {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
