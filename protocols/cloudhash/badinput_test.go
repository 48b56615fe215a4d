package cloudhash_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reactorkit/reactor/loop"
	"github.com/reactorkit/reactor/protocols/cloudhash"
)

// badInput is one malformed input and what the server must answer before
// it closes the connection (or, with open set, while keeping it usable).
type badInput struct {
	name string
	in   []byte
	want string // the answer must start with this
	open bool   // the connection stays usable afterwards
}

func repeat(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func lenPrefix(n uint32) []byte { return binary.LittleEndian.AppendUint32(nil, n) }

// garbage is fixed binary noise with the bytes that mean something to each
// protocol (CR, LF, a quote, a control byte) in its first line.
func garbage() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := []byte{0xde, 0xad, '"', 0xbe, 0xef, 1, '\r', '\n'}
	for range 4096 {
		b = append(b, byte(r.IntN(256)))
	}
	return b
}

func badInputs(port string) []badInput {
	mib := repeat('a', 1<<20)
	switch port {
	case "resp":
		return []badInput{
			{"oversized bulk", []byte("*2\r\n$3\r\nGET\r\n$600000000\r\n"), "-ERR Protocol error: invalid bulk length\r\n", false},
			{"bulk length 2^31-1", []byte("*2\r\n$3\r\nGET\r\n$2147483647\r\n"), "-ERR Protocol error: invalid bulk length\r\n", false},
			{"bad multibulk length", []byte("*abc\r\n"), "-ERR Protocol error: invalid multibulk length\r\n", false},
			{"multibulk length 2^31-1", []byte("*2147483647\r\n"), "-ERR Protocol error: invalid multibulk length\r\n", false},
			{"binary garbage", garbage(), "-ERR Protocol error: unbalanced quotes in request\r\n", false},
			{"1 MiB line without newline", mib, "-ERR Protocol error: too big inline request\r\n", false},
			{"expected dollar", []byte("*1\r\n:1\r\n"), "-ERR Protocol error: expected '$', got ':'\r\n", false},
		}
	case "line":
		return []badInput{
			{"oversized bulk as a line", []byte("$600000000\r\n"), "ERR unknown command '$600000000'\n", true},
			{"bad multibulk length as a line", []byte("*abc\r\n"), "ERR unknown command '*abc'\n", true},
			{"binary garbage", garbage(), "ERR binary data is not a line-protocol command\n", false},
			{"1 MiB line without newline", mib, "ERR line too long\n", false},
			{"length prefix 2^31-1", append(lenPrefix(1<<31-1), "GET k\n"...), "ERR binary data is not a line-protocol command\n", false},
		}
	}
	neg := func(msg string) string {
		return string(binary.LittleEndian.AppendUint32(nil, uint32(-int32(len(msg))))) + msg
	}
	return []badInput{
		{"length prefix 2^31-1", append(lenPrefix(1<<31-1), "GET k"...), neg("ERR frame too large"), false},
		{"negative length", lenPrefix(0xffffffff), neg("ERR negative frame length"), false},
		{"oversized frame", lenPrefix(cloudhash.DefaultMaxValue + cloudhash.DefaultMaxLine + 9), neg("ERR frame too large"), false},
		{"binary garbage", garbage(), neg("ERR negative frame length"), false},
		{"1 MiB line without newline", mib, neg("ERR frame too large"), false},
		{"bad command in a good frame", append(lenPrefix(6), "*abc\r\n"...), neg("ERR unknown command '*abc??'"), true},
	}
}

// sendBad writes in (ignoring a write error: the server may close first)
// and returns everything read until EOF or a silence (short when the
// connection is to stay open), and whether the
// server closed the connection.
func sendBad(t *testing.T, addr net.Addr, in []byte, keepOpen bool) (string, bool) {
	t.Helper()
	// Not dial: its cleanup would keep every connection of checkBounded's
	// rounds until the test ends, in the heap it measures. Closed at once,
	// so the server's lingering close ends too.
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go c.Write(in)
	var out []byte
	buf := make([]byte, 4096)
	for {
		wait := 5 * time.Second
		if keepOpen {
			wait = 300 * time.Millisecond
		}
		c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
			return string(out), true
		}
		return string(out), false
	}
}

// TestBadInput sends each bad input on each port: each gets the protocol's
// error, and the connection closes (or, for a malformed line or command in
// a good frame, stays usable); the server and the other connections keep
// working; and memory stays bounded however often it is repeated.
func TestBadInput(t *testing.T) {
	s := startServer(t)
	addrs := map[string]net.Addr{"resp": s.RESPAddr(), "line": s.LineAddr(), "length": s.LengthAddr()}

	// Long-lived connections on every port, used before and after.
	rc := newRESPConn(t, s.RESPAddr())
	rc.do("SET", "k", "v")
	lineConn := dial(t, s.LineAddr())
	lenConn := dial(t, s.LengthAddr())
	stillWorks := func() {
		t.Helper()
		for _, c := range []net.Conn{rc.c, lineConn, lenConn} {
			c.SetDeadline(time.Now().Add(10 * time.Second))
		}
		if got := rc.do("GET", "k"); got != "$1\r\nv\r\n" {
			t.Errorf("RESP connection after bad input elsewhere: %q", got)
		}
		lineConn.Write([]byte("GET k\n"))
		buf := make([]byte, 2)
		if _, err := io.ReadFull(lineConn, buf); err != nil || string(buf) != "v\n" {
			t.Errorf("line connection after bad input elsewhere: %q %v", buf, err)
		}
		lenConn.Write(lengthFrame("GET k"))
		if got, isErr := readLengthAnswer(t, lenConn); got != "v" || isErr {
			t.Errorf("length connection after bad input elsewhere: %q", got)
		}
	}
	stillWorks()
	// The server with only those connections and nothing pending.
	idle := s.Loops().Stats().Total
	for _, portName := range []string{"resp", "line", "length"} {
		for _, bad := range badInputs(portName) {
			t.Run(portName+"/"+bad.name, func(t *testing.T) {
				got, closed := sendBad(t, addrs[portName], bad.in, bad.open)
				if !strings.HasPrefix(got, bad.want) {
					t.Errorf("answer %.120q, want it to start with %q", got, bad.want)
				}
				if closed == bad.open {
					t.Errorf("closed = %v, want %v", closed, !bad.open)
				}
			})
		}
	}
	stillWorks()

	// Memory: repeat every closing bad input for many rounds.
	checkBounded(t, s, idle, func() {
		for _, portName := range []string{"resp", "line", "length"} {
			for _, bad := range badInputs(portName) {
				if !bad.open {
					sendBad(t, addrs[portName], bad.in, false)
				}
			}
		}
	})
	stillWorks()
}

// Rounds of bad input for checkBounded: the heap is measured after
// warmRounds (once buffers and pools have grown to their working size) and
// again after measuredRounds more. Each round has the server read a few
// MiB, so a server that kept even a small part of what it read, or kept
// the connections, would grow by far more than heapSlack.
const (
	warmRounds     = 10
	measuredRounds = 40
	heapSlack      = 2 << 20
)

// checkBounded runs round warmRounds+measuredRounds times against s and
// checks that the server holds no more after the last rounds than after
// the warm-up ones: its open connections and armed timers return to what
// they were when idle (before any bad input), and the heap grows by at
// most heapSlack, far below the bytes the server read in between.
func checkBounded(t *testing.T, s *cloudhash.Server, idle loop.LoopStats, round func()) {
	t.Helper()
	stats := func() loop.LoopStats { return s.Loops().Stats().Total }
	// settle waits for the server to close the rounds' connections and
	// then for their timers to be disarmed, and returns the heap in use
	// after collecting (twice, so sync.Pools are emptied too) and the
	// bytes the server has read so far. A timer left armed would hold its
	// connection until it fired, so it gets far less time than the
	// connections' own linger timeout; the loops update the count after
	// each unit of work, so it may lag the open count a little.
	settle := func() (heap, read uint64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); stats().Open != idle.Open; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("open connections: %d, want %d as before the bad input", stats().Open, idle.Open)
			}
		}
		for deadline := time.Now().Add(cloudhash.LingerTimeout / 4); stats().Timers != idle.Timers; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timers armed: %d, want %d as before the bad input", stats().Timers, idle.Timers)
			}
		}
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc, stats().BytesIn
	}
	for range warmRounds {
		round()
	}
	heap0, read0 := settle()
	for range measuredRounds {
		round()
	}
	heap1, read1 := settle()
	if read := read1 - read0; read < 10*heapSlack {
		t.Fatalf("the server read only %d bytes in the measured rounds; the heap bound of %d says nothing", read, heapSlack)
	}
	if heap1 > heap0+heapSlack {
		t.Errorf("heap grew from %d to %d bytes while the server read %d bytes of bad input (allowed: %d)",
			heap0, heap1, read1-read0, heapSlack)
	}
	t.Logf("heap %d -> %d bytes while the server read %d bytes", heap0, heap1, read1-read0)
}

// TestPartialBulkBounded: a peer that announces a large (allowed) bulk and
// sends it slowly holds at most the inbound limit, and is cut off beyond
// it.
func TestPartialBulkBounded(t *testing.T) {
	s := startServer(t, cloudhash.WithMaxValue(1<<20))
	c := dial(t, s.RESPAddr())
	c.Write([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n"))
	c.Write(repeat('x', 500_000))
	// The rest never comes; another connection still works meanwhile.
	if got := newRESPConn(t, s.RESPAddr()).do("PING"); got != "+PONG\r\n" {
		t.Errorf("PING while a bulk is half sent: %q", got)
	}
	// More than the limit in one request: MSET with many 1 MB values.
	big := append([]byte("*9\r\n$4\r\nMSET\r\n"), bytes.Repeat(append(append([]byte("$1\r\nk\r\n$1000000\r\n"), repeat('y', 1000000)...), '\r', '\n'), 4)...)
	_, closed := sendBad(t, s.RESPAddr(), big, false)
	if !closed {
		t.Errorf("a request beyond the inbound limit must close the connection")
	}
}
