//go:build !gnet

package loop_test

import (
	"runtime"
	"testing"

	"github.com/reactorkit/reactor/poller"
)

// TestBackendInUseIsNative proves that the default build runs its loops on
// the native poller: every loop goroutine of a serving two-loop server waits
// inside the epoll (Linux) or kqueue (BSD, macOS) backend's Run.
func TestBackendInUseIsNative(t *testing.T) {
	want, frame := "kqueue", "github.com/reactorkit/reactor/poller.(*kqueue).Run("
	if runtime.GOOS == "linux" {
		want, frame = "epoll", "github.com/reactorkit/reactor/poller.(*epoll).Run("
	}
	if poller.Backend != want {
		t.Fatalf("poller.Backend = %q, want %q", poller.Backend, want)
	}
	checkLoopsWaitIn(t, frame)
}
