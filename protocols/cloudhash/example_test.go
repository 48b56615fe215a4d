package cloudhash_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/reactorkit/reactor/loop"
	"github.com/reactorkit/reactor/protocols/cloudhash"
)

// A CloudHash server on free loopback ports, and the seed's session over
// the line protocol with the Go client.
func Example() {
	s, err := cloudhash.NewServer(
		cloudhash.WithLineAddr("127.0.0.1:0"),
		cloudhash.WithLengthAddr("127.0.0.1:0"),
		cloudhash.WithRESPAddr(""), // off
		cloudhash.WithLoopOptions(loop.WithLoops(1)),
		cloudhash.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Shutdown(context.Background())

	ctx := context.Background()
	c, err := cloudhash.Dial(ctx, s.LineAddr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Set(ctx, "prez", []byte("obama"))
	prez, _ := c.Get(ctx, "prez")
	vp, _ := c.Get(ctx, "vp")
	fmt.Printf("prez=%q vp=%q\n", prez, vp)
	// Output: prez="obama" vp=""
}
