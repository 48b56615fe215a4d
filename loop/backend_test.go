// Helpers of the backend checks in backend_gnet_test.go and
// backend_native_test.go, of which a build compiles one.

package loop_test

import (
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// checkLoopsWaitIn starts a two-loop server, echoes a message through it,
// and checks that the stack of every loop goroutine holds frame.
func checkLoopsWaitIn(t *testing.T, frame string) {
	t.Helper()
	s, addr := serve(t, echoProto{})
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	var buf [4]byte
	if _, err := io.ReadFull(c, buf[:]); err != nil || string(buf[:]) != "ping" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	// A loop goroutine is briefly elsewhere while it starts, and loops of
	// servers that earlier tests shut down may still be exiting: look again
	// until every loop goroutine is waiting.
	deadline := time.Now().Add(5 * time.Second)
	for {
		loops, inside, stacks := 0, 0, allStacks()
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "github.com/reactorkit/reactor/loop.(*Loop).run(") {
				loops++
				if strings.Contains(g, frame) {
					inside++
				}
			}
		}
		if loops >= len(s.Loops()) && inside == loops {
			t.Logf("%d loop goroutines, all inside %s", loops, strings.TrimSuffix(frame, "("))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d loop goroutines inside %s; stacks:\n%s", inside, loops, frame, stacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// allStacks returns the stacks of all goroutines, blank-line separated.
func allStacks() string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}
