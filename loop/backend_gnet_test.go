//go:build gnet

package loop_test

import (
	"testing"

	"github.com/reactorkit/reactor/poller"
)

// TestBackendInUseIsGnet proves that a -tags gnet build runs its loops on
// gnet's poller, not merely that it compiles it in: every loop goroutine of a
// serving two-loop server waits inside gnet's netpoll.(*Poller).Polling.
func TestBackendInUseIsGnet(t *testing.T) {
	if poller.Backend != "gnet" {
		t.Fatalf("poller.Backend = %q in a gnet build", poller.Backend)
	}
	checkLoopsWaitIn(t, "github.com/panjf2000/gnet/v2/pkg/netpoll.(*Poller).Polling(")
}
