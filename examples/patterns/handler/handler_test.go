package handler

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// feedAll feeds input in pieces cut at the given points, as a server would
// receive it, keeping what Feed leaves for the next call.
func feedAll(t *testing.T, s Session, input []byte, cuts ...int) (string, bool) {
	t.Helper()
	var out bytes.Buffer
	var pending []byte
	prev := 0
	quit := false
	for _, cut := range append(cuts, len(input)) {
		pending = append(pending, input[prev:cut]...)
		prev = cut
		n, q, err := s.Feed(pending, &out)
		if err != nil {
			t.Fatal(err)
		}
		pending = pending[n:]
		if q {
			quit = true
			break
		}
	}
	return out.String(), quit
}

func TestFTPSessionSplitAtEveryByte(t *testing.T) {
	input := []byte("USER anonymous\r\nSYST\r\nPWD\nxyzzy\r\nQUIT\r\nUSER late\r\n")
	want := ReplyUser + ReplySyst + ReplyPWD("/srv") + "502 Don't know how to respond to XYZZ\r\n" + ReplyQuit
	for cut := 0; cut <= len(input); cut++ {
		got, quit := feedAll(t, New(FTP, "/srv"), input, cut)
		if got != want || !quit {
			t.Fatalf("cut at %d: got %q quit=%v, want %q", cut, got, quit, want)
		}
	}
}

func TestFTPCWD(t *testing.T) {
	dir := t.TempDir()
	s := New(FTP, "/")
	got, _ := feedAll(t, s, []byte("CWD "+dir+"\r\nPWD\r\n"))
	want := "250 directory changed to " + dir + "\r\n" + ReplyPWD(dir)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestFTPLineTooLong(t *testing.T) {
	var out bytes.Buffer
	_, _, err := New(FTP, "/").Feed([]byte(strings.Repeat("x", MaxLine)), &out)
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err = %v", err)
	}
}

func TestEchoAndGreeting(t *testing.T) {
	var out bytes.Buffer
	if err := New(FTP, "/").Open(&out); err != nil || out.String() != Greeting {
		t.Fatalf("greeting %q, %v", out.String(), err)
	}
	out.Reset()
	e := New(Echo, "")
	if err := e.Open(&out); err != nil || out.Len() != 0 {
		t.Fatal("echo greets")
	}
	n, quit, err := e.Feed([]byte("abc\x00\n"), &out)
	if n != 5 || quit || err != nil || out.String() != "abc\x00\n" {
		t.Fatalf("echo: %d %v %v %q", n, quit, err, out.String())
	}
	if _, err := ParseProto("smtp"); !errors.Is(err, ErrUnknownProto) {
		t.Fatalf("ParseProto: %v", err)
	}
}
