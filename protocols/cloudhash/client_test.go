package cloudhash_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reactorkit/reactor/protocols/cloudhash"
)

// eachFraming runs test as a subtest per framing, each with its own client
// of s dialled in that framing.
func eachFraming(t *testing.T, s *cloudhash.Server, test func(t *testing.T, framing cloudhash.Framing, c *cloudhash.Client)) {
	for _, tc := range []struct {
		framing cloudhash.Framing
		addr    net.Addr
	}{{cloudhash.FramingLine, s.LineAddr()}, {cloudhash.FramingLength, s.LengthAddr()}} {
		t.Run(tc.framing.String(), func(t *testing.T) {
			c, err := cloudhash.Dial(context.Background(), tc.addr.String(), cloudhash.WithFraming(tc.framing))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			test(t, tc.framing, c)
		})
	}
}

func TestClientSeedSession(t *testing.T) {
	ctx := context.Background()
	eachFraming(t, startServer(t), func(t *testing.T, _ cloudhash.Framing, c *cloudhash.Client) {
		if err := c.Set(ctx, "prez", []byte("obama")); err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]string{"prez": "obama", "vp": ""} {
			got, err := c.Get(ctx, key)
			if err != nil || string(got) != want {
				t.Errorf("Get(%q) = %q, %v; want %q", key, got, err, want)
			}
		}
	})
}

// TestClientPipelinedConcurrent shares one client among many goroutines:
// their requests are pipelined on one connection and every answer goes to
// its own caller. (A lock-step client would pass this too;
// TestClientPipelinesBeforeAnswers is the one that needs the pipelining.)
func TestClientPipelinedConcurrent(t *testing.T) {
	ctx := context.Background()
	eachFraming(t, startServer(t), func(t *testing.T, framing cloudhash.Framing, c *cloudhash.Client) {
		var wg sync.WaitGroup
		for g := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 100 {
					key, val := fmt.Sprintf("%s-%d-%d", framing, g, i%7), fmt.Sprintf("v%d.%d", g, i)
					if err := c.Set(ctx, key, []byte(val)); err != nil {
						t.Error(err)
						return
					}
					got, err := c.Get(ctx, key)
					if err != nil || string(got) != val {
						t.Errorf("Get(%q) = %q, %v; want %q", key, got, err, val)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
}

// TestClientPipelinesBeforeAnswers: a fake server reads pipelineDepth
// requests before it answers any, so only a client that has them all in
// flight on its one connection at once gets its answers. A lock-step
// client (one request at a time, the next after the answer) never sends
// the second request, and its calls time out. Each answer names its key,
// so one matched to the wrong call shows too.
func TestClientPipelinesBeforeAnswers(t *testing.T) {
	const pipelineDepth = 16
	for _, framing := range []cloudhash.Framing{cloudhash.FramingLine, cloudhash.FramingLength} {
		t.Run(framing.String(), func(t *testing.T) {
			// Generous for a loaded machine; it also ends a lock-step
			// client's calls together rather than one timeout after another.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- answerAfterAll(ln, framing, pipelineDepth) }()
			defer func() {
				ln.Close()
				if err := <-served; err != nil {
					t.Errorf("fake server: %v", err)
				}
			}()
			c, err := cloudhash.Dial(ctx, ln.Addr().String(), cloudhash.WithFraming(framing), cloudhash.WithTimeout(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var wg sync.WaitGroup
			for i := range pipelineDepth {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key := fmt.Sprintf("key%d", i)
					if got, err := c.Get(ctx, key); err != nil || string(got) != "value of "+key {
						t.Errorf("Get(%q) = %q, %v; want %q", key, got, err, "value of "+key)
					}
				}()
			}
			wg.Wait()
		})
	}
}

// answerAfterAll accepts one connection on ln, reads n GET requests in
// framing, and only then answers them, in order, each with "value of"
// and its key.
func answerAfterAll(ln net.Listener, framing cloudhash.Framing, n int) error {
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	r := bufio.NewReader(c)
	var answers []byte
	for i := range n {
		var req string
		if framing == cloudhash.FramingLength {
			var hdr [4]byte
			if _, err = io.ReadFull(r, hdr[:]); err == nil {
				b := make([]byte, binary.LittleEndian.Uint32(hdr[:]))
				_, err = io.ReadFull(r, b)
				req = string(b)
			}
		} else {
			req, err = r.ReadString('\n')
			req = strings.TrimSuffix(req, "\n")
		}
		if err != nil {
			return fmt.Errorf("reading request %d of %d before answering: %w", i+1, n, err)
		}
		key, ok := strings.CutPrefix(req, "GET ")
		if !ok {
			return fmt.Errorf("request %q, want a GET", req)
		}
		if framing == cloudhash.FramingLength {
			answers = append(answers, lengthFrame("value of "+key)...)
		} else {
			answers = append(answers, "value of "+key+"\n"...)
		}
	}
	if _, err := c.Write(answers); err != nil {
		return err
	}
	// Wait for the client to close, so it reads every answer first.
	_, err = r.ReadByte()
	if errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("after the answers: %w", err)
}

func TestClientErrors(t *testing.T) {
	s := startServer(t, cloudhash.WithMaxMemory(1))
	ctx := context.Background()
	line, err := cloudhash.Dial(ctx, s.LineAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer line.Close()
	length, err := cloudhash.Dial(ctx, s.LengthAddr().String(), cloudhash.WithFraming(cloudhash.FramingLength))
	if err != nil {
		t.Fatal(err)
	}
	defer length.Close()
	for _, bad := range []struct {
		c          *cloudhash.Client
		key, value string
	}{{line, "a b", "v"}, {line, "", "v"}, {line, "k", "two\nlines"}, {line, "k", " padded"}, {line, "k", ""}, {length, "a\tb", "v"}} {
		if err := bad.c.Set(ctx, bad.key, []byte(bad.value)); !errors.Is(err, cloudhash.ErrInvalidArgument) {
			t.Errorf("Set(%q, %q): %v, want ErrInvalidArgument", bad.key, bad.value, err)
		}
	}
	// Above maxmemory both protocols answer Redis's OOM error.
	s.Store().Set([]byte("fill"), []byte("x"), 0, false, cloudhash.SetAlways, now())
	for _, c := range []*cloudhash.Client{line, length} {
		var se *cloudhash.ServerError
		if err := c.Set(ctx, "k", []byte("v")); !errors.As(err, &se) || !strings.HasPrefix(se.Msg, "OOM ") {
			t.Errorf("Set above maxmemory: %v", err)
		}
		if v, err := c.Get(ctx, "fill"); err != nil || string(v) != "x" {
			t.Errorf("Get above maxmemory: %q, %v", v, err)
		}
	}
	line.Close()
	if _, err := line.Get(ctx, "k"); !errors.Is(err, cloudhash.ErrClientClosed) {
		t.Errorf("Get after Close: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := length.Get(cctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context: %v", err)
	}
}

// TestClientTimeoutAndRedial: a server that never answers makes calls time
// out; a connection the server drops fails its calls; the next call dials
// again.
func TestClientTimeoutAndRedial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r := bufio.NewReader(c)
			line, err := r.ReadString('\n')
			switch {
			case err != nil:
			case i == 0:
				// Never answer: wait for the client to give up.
				r.ReadString('\n')
			case i == 1:
				// Drop the connection without an answer.
			default:
				c.Write([]byte("answer to " + strings.Fields(line)[1] + "\n"))
				r.ReadString('\n')
			}
			c.Close()
		}
	}()
	ctx := context.Background()
	c, err := cloudhash.Dial(ctx, ln.Addr().String(), cloudhash.WithTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Get(ctx, "a")
	if !errors.Is(err, cloudhash.ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Get from a silent server: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %v", d)
	}
	if _, err := c.Get(ctx, "b"); !errors.Is(err, cloudhash.ErrConnLost) {
		t.Errorf("Get on a dropped connection: %v, want ErrConnLost", err)
	}
	var got []byte
	for range 20 { // the dropped connection's close may still be on its way
		if got, err = c.Get(ctx, "c"); err == nil || !errors.Is(err, cloudhash.ErrConnLost) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || string(got) != "answer to c" {
		t.Errorf("Get after redial: %q, %v", got, err)
	}
}
