package cloudhash_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
)

// The seed's session: set prez obama → obama; get prez → obama; get vp →
// empty, in each of the seed's three framings, each with its own client.
var seedSession = []struct{ req, want string }{
	{"SET prez obama", "obama"},
	{"GET prez", "obama"},
	{"GET vp", ""},
}

// TestSeedSessionEOFFramed is the seed's first client: one connection per
// request, written without a newline, half-closed, and read to EOF.
func TestSeedSessionEOFFramed(t *testing.T) {
	s := startServer(t)
	for _, step := range seedSession {
		c := dial(t, s.LineAddr())
		if _, err := c.Write([]byte(step.req)); err != nil {
			t.Fatal(err)
		}
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if got := string(readAll(t, c)); got != step.want {
			t.Errorf("%q: got %q, want %q", step.req, got, step.want)
		}
	}
}

// TestSeedSessionLine is the seed's newline-framed client: one connection,
// puts and gets.
func TestSeedSessionLine(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.LineAddr())
	r := bufio.NewReader(c)
	for _, step := range seedSession {
		if _, err := c.Write([]byte(step.req + "\n")); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if got != step.want+"\n" {
			t.Errorf("%q: got %q, want %q", step.req, got, step.want+"\n")
		}
	}
	c.Write([]byte("exit\n"))
	expectEOF(t, c)
}

// lengthFrame frames a request the seed's way: [len].pack('i') + payload.
func lengthFrame(payload string) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

// readLengthAnswer reads one framed answer; a negative length is an error
// answer, returned with isErr set.
func readLengthAnswer(t testing.TB, r io.Reader) (payload string, isErr bool) {
	t.Helper()
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		t.Fatalf("reading answer header: %v", err)
	}
	n := int32(binary.LittleEndian.Uint32(hdr[:]))
	if n < 0 {
		n, isErr = -n, true
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("reading answer payload: %v", err)
	}
	return string(b), isErr
}

// TestSeedSessionLengthPrefixed is the seed's length-prefixed client, with
// the answers framed the same way, pipelined in one write.
func TestSeedSessionLengthPrefixed(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.LengthAddr())
	var reqs []byte
	for _, step := range seedSession {
		reqs = append(reqs, lengthFrame(step.req)...)
	}
	if _, err := c.Write(reqs); err != nil {
		t.Fatal(err)
	}
	for _, step := range seedSession {
		got, isErr := readLengthAnswer(t, c)
		if isErr || got != step.want {
			t.Errorf("%q: got %q (error %v), want %q", step.req, got, isErr, step.want)
		}
	}
}

func TestLineProtocol(t *testing.T) {
	s := startServer(t)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"crlf and case", "set K v1\r\nGeT K\r\n", "v1\nv1\n"},
		{"value is the rest of the line", "SET greeting hello there  world  \nGET greeting\n", "hello there  world\nhello there  world\n"},
		{"blank lines ignored", "\n\r\n  \nGET K\n", "v1\n"},
		{"unknown command keeps the connection", "FROB x\nGET K\n", "ERR unknown command 'FROB'\nv1\n"},
		{"missing arguments", "GET\nSET k\nGET a b\nGET K\n", "ERR wrong number of arguments: GET key\nERR wrong number of arguments: SET key value\nERR wrong number of arguments: GET key\nv1\n"},
		{"pipelined then half-close", "SET a 1\nSET b 2\nGET a\nGET b", "1\n2\n1\n2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, s.LineAddr())
			c.Write([]byte(tt.in))
			c.(*net.TCPConn).CloseWrite()
			if got := string(readAll(t, c)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLineNewlineValue: a value set on another port that holds a newline
// cannot be a line; the line protocol says so instead of splitting it.
func TestLineNewlineValue(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.LengthAddr())
	c.Write(lengthFrame("SET nl a\nb"))
	if got, _ := readLengthAnswer(t, c); got != "a\nb" {
		t.Fatalf("SET answered %q", got)
	}
	l := dial(t, s.LineAddr())
	l.Write([]byte("GET nl\nGET x\n"))
	l.(*net.TCPConn).CloseWrite()
	got := string(readAll(t, l))
	if !strings.HasPrefix(got, "ERR the value holds a newline") || !strings.HasSuffix(got, "\n\n") {
		t.Errorf("got %q", got)
	}
}

func TestLengthProtocolBinaryValues(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.LengthAddr())
	val := string(bytes.Repeat([]byte{0, 1, 2, 0xff, ' ', '\n', '\r'}, 1000))
	var reqs []byte
	reqs = append(reqs, lengthFrame("SET bin "+val)...)
	reqs = append(reqs, lengthFrame("GET bin")...)
	reqs = append(reqs, lengthFrame("SET empty ")...)
	reqs = append(reqs, lengthFrame("GET empty")...)
	reqs = append(reqs, lengthFrame("NOPE x")...)
	reqs = append(reqs, lengthFrame("GET")...)
	reqs = append(reqs, lengthFrame("get bin")...)
	c.Write(reqs)
	want := []struct {
		payload string
		isErr   bool
	}{{val, false}, {val, false}, {"", false}, {"", false}, {"ERR unknown command 'NOPE'", true}, {"ERR wrong number of arguments: GET key", true}, {val, false}}
	for i, w := range want {
		got, isErr := readLengthAnswer(t, c)
		if got != w.payload || isErr != w.isErr {
			t.Errorf("answer %d: got %.40q (error %v), want %.40q (error %v)", i, got, isErr, w.payload, w.isErr)
		}
	}
}
