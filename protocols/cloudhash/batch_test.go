package cloudhash_test

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reactorkit/reactor/protocols/cloudhash"
)

// TestOneWritePerRead: pipelined requests that arrive in one read are
// answered, in order, with one Write, on every port.
func TestOneWritePerRead(t *testing.T) {
	var mu sync.Mutex
	counts := map[string]int{}
	s := startServer(t, cloudhash.WithIOTrace(func(ev string) {
		mu.Lock()
		counts[ev]++
		mu.Unlock()
	}))
	const n = 100
	var resp, line, length, wantResp, wantLine, wantLength bytes.Buffer
	for i := range n {
		k := strings.Repeat("k", i%5+1)
		resp.Write(encodeCommand("SET", k, k))
		resp.Write(encodeCommand("GET", k))
		wantResp.WriteString("+OK\r\n$" + string(rune('0'+len(k))) + "\r\n" + k + "\r\n")
		line.WriteString("SET " + k + " " + k + "\nGET " + k + "\n")
		wantLine.WriteString(k + "\n" + k + "\n")
		length.Write(lengthFrame("SET " + k + " " + k))
		length.Write(lengthFrame("GET " + k))
		wantLength.Write(lengthFrame(k))
		wantLength.Write(lengthFrame(k))
	}
	for _, tc := range []struct {
		name     string
		addr     net.Addr
		in, want []byte
	}{
		{"resp", s.RESPAddr(), resp.Bytes(), wantResp.Bytes()},
		{"line", s.LineAddr(), line.Bytes(), wantLine.Bytes()},
		{"length", s.LengthAddr(), length.Bytes(), wantLength.Bytes()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, tc.addr)
			time.Sleep(20 * time.Millisecond) // let OnOpen settle
			mu.Lock()
			clear(counts)
			mu.Unlock()
			if _, err := c.Write(tc.in); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(tc.want))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := readFull(c, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("answers out of order or wrong:\n got %.200q\nwant %.200q", got, tc.want)
			}
			mu.Lock()
			data, writes := counts["data"], counts["write"]
			mu.Unlock()
			if writes > data || (data == 1 && writes != 1) {
				t.Errorf("%d writes for %d reads of %d pipelined requests", writes, data, 2*n)
			}
			t.Logf("%d requests: %d reads, %d writes", 2*n, data, writes)
		})
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
