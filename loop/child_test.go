package loop_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/reactorkit/reactor/loop"
)

// child is this test binary run again as a helper process: TestMain runs
// the child's function instead of the tests when its environment variable
// is set (emfileChild, memChild).
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser // closing it tells the child to exit
	out    *bufio.Reader  // the child's stdout, past the line startChild read
	cancel context.CancelFunc
}

// startChild runs this test binary again with env set, killed if it is still
// running after timeout, and returns it and the first line it printed,
// trimmed: the address it serves on (see childEchoServer). The caller defers
// stop.
func startChild(t testing.TB, timeout time.Duration, env string) (*child, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), cancel: cancel}
	line, err := c.out.ReadString('\n')
	if err != nil {
		c.stop()
		t.Fatalf("child %s: %v", env, err)
	}
	addr := strings.TrimSpace(line)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		c.stop()
		t.Fatalf("child %s said %q", env, line)
	}
	return c, addr
}

// stop closes the child's stdin, which makes it exit, and waits for it.
func (c *child) stop() {
	c.stdin.Close()
	c.cmd.Wait()
	c.cancel()
}

// childEchoServer is a child's server: it serves echoProto with opts on a
// free loopback port and prints the address for startChild. It exits the
// process if it cannot.
func childEchoServer(opts ...loop.Option) *loop.Server {
	s, err := loop.NewServer(opts...)
	if err != nil {
		fmt.Println("server:", err)
		os.Exit(1)
	}
	ln, err := s.Listen("tcp", "127.0.0.1:0", echoProto{})
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	return s
}
