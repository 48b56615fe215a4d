package loop_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

// upper answers each line with the line upper-cased.
type upper struct{ loop.BaseProtocol }

func (upper) OnData(c *conn.Conn) {
	for {
		b, _ := c.Peek(0)
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		line, _ := c.Next(i + 1)
		c.Write(bytes.ToUpper(line)) // Write copies what it must keep
	}
	if c.PeerClosed() {
		c.Close()
	}
}

// client sends one line and reports the answer.
type client struct {
	loop.BaseProtocol
	answer chan string
}

func (p *client) OnOpen(c *conn.Conn) { c.Write([]byte("hello, reactor\n")) }

func (p *client) OnData(c *conn.Conn) {
	if b, _ := c.Peek(0); len(b) > 0 && b[len(b)-1] == '\n' {
		p.answer <- string(b)
		c.Close()
	}
}

// A server with one listener, and a client dialed on the same server's loops.
func Example() {
	s, err := loop.NewServer(loop.WithLoops(2))
	if err != nil {
		panic(err)
	}
	ln, err := s.Listen("tcp", "127.0.0.1:0", upper{})
	if err != nil {
		panic(err)
	}
	cl := &client{answer: make(chan string, 1)}
	if _, err := s.Dial(context.Background(), "tcp", ln.Addr().String(), cl); err != nil {
		panic(err)
	}
	fmt.Print(<-cl.answer)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(s.Shutdown(ctx))
	// Output:
	// HELLO, REACTOR
	// <nil>
}
