package debughttp

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/reactorkit/reactor/loop"
)

func TestServeStats(t *testing.T) {
	s, err := loop.NewServer(loop.WithLoops(2))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	stop, err := Serve(addr, s)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var resp *http.Response
	for i := 0; i < 50; i++ {
		if resp, err = http.Get("http://" + addr + "/debug/vars"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v struct {
		Reactor loop.Stats `json:"reactor"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	if len(v.Reactor.Loops) != 2 || v.Reactor.Backend == "" {
		t.Fatalf("stats %+v", v.Reactor)
	}
	pr, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil || pr.StatusCode != 200 {
		t.Fatalf("pprof: %v %v", err, pr)
	}
	pr.Body.Close()
}
