// Command gnetserver serves echo or the patterns' FTP-like line protocol on
// gnet's own engine (gnet.Run), the peer examples/bench measures reactor
// against. Only the bench harness builds it: no example that ships links
// gnet's engine.
//
//	go run ./examples/bench/gnetserver -addr 127.0.0.1:7001 -loops 1
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/reactorkit/reactor/examples/internal/fdlimit"
	"github.com/reactorkit/reactor/examples/patterns/handler"
)

// server is the gnet event handler; its fields are immutable once Run starts.
type server struct {
	gnet.BuiltinEventEngine
	proto handler.Proto
	dir   string
}

// OnOpen gives the connection its Session and returns the greeting.
func (s *server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	sess := handler.New(s.proto, s.dir)
	c.SetContext(sess)
	if err := sess.Open(c); err != nil {
		return nil, gnet.Close
	}
	return nil, gnet.None
}

// OnTraffic hands every buffered byte to the Session and keeps the rest.
func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	sess := c.Context().(handler.Session)
	in, _ := c.Peek(-1)
	n, quit, err := sess.Feed(in, c)
	c.Discard(n)
	if quit || err != nil {
		return gnet.Close
	}
	return gnet.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7001", "address to listen on")
	loops := flag.Int("loops", 1, "event loops")
	proto := flag.String("proto", "echo", "echo or ftp")
	dir := flag.String("dir", "", "FTP starting directory (default: the working directory)")
	flag.Parse()
	p, err := handler.ParseProto(*proto)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gnetserver:", err)
		os.Exit(2)
	}
	if *dir == "" {
		if *dir, err = os.Getwd(); err != nil {
			fmt.Fprintln(os.Stderr, "gnetserver:", err)
			os.Exit(1)
		}
	}
	if _, _, err := fdlimit.Raise(); err != nil {
		fmt.Fprintln(os.Stderr, "gnetserver: raising the open-files limit:", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	protoAddr := "tcp://" + *addr
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gnet.Stop(sctx, protoAddr)
	}()
	err = gnet.Run(&server{proto: p, dir: *dir}, protoAddr,
		gnet.WithMulticore(*loops > 1), gnet.WithNumEventLoop(*loops),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithReuseAddr(true))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gnetserver:", err)
		os.Exit(1)
	}
}
