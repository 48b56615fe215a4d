// Package handler is the one protocol handler every server pattern in
// examples/patterns (and the gnet engine peer in examples/bench) shares, so
// the patterns differ only in how they hand connections to it.
//
// It speaks two protocols:
//
//   - echo: every byte received is written back;
//   - ftp: the control channel of the seed's FTP-like server, a line protocol
//     (CRLF or LF terminated) that greets with "220 OHAI" and answers USER,
//     SYST, CWD, PWD and QUIT; anything else gets a 502. There are no data
//     connections (PORT, RETR and LIST are answered 502 too).
//
// A Session is fed raw bytes as they arrive (Feed) and writes its replies to
// an io.Writer: a blocking net.Conn, a reactor *conn.Conn or a gnet.Conn. It
// consumes every complete frame it is given and leaves the rest, so it works
// unchanged under blocking reads, evented callbacks and pipelined input.
package handler

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Proto names one of the two protocols.
type Proto string

// The protocols a Session can speak.
const (
	Echo Proto = "echo"
	FTP  Proto = "ftp"
)

// MaxLine is the longest FTP command line accepted, terminator included.
const MaxLine = 4096

// The fixed FTP replies, CRLF included. The bench harness checks answers
// against these byte for byte.
const (
	Greeting  = "220 OHAI\r\n"
	ReplyUser = "230 Logged in anonymously\r\n"
	ReplySyst = "215 UNIX Working With FTP\r\n"
	ReplyQuit = "221 Ciao\r\n"
)

// ReplyPWD returns the answer to PWD for the directory dir.
func ReplyPWD(dir string) string {
	return fmt.Sprintf("257 %q is the current directory\r\n", dir)
}

// Session is one connection's protocol state. A Session is used by one
// goroutine at a time (the connection's own goroutine, or its event loop).
type Session interface {
	// Open writes what the server says first: the FTP greeting, nothing
	// for echo.
	Open(w io.Writer) error
	// Feed handles every complete frame in in, writing the replies to w,
	// and returns how many bytes it consumed; the caller keeps the rest
	// and offers it again with more bytes. quit is true once the client
	// asked to end the session (FTP QUIT): the caller flushes and closes.
	Feed(in []byte, w io.Writer) (consumed int, quit bool, err error)
}

// ParseProto checks a protocol name.
func ParseProto(s string) (Proto, error) {
	switch p := Proto(s); p {
	case Echo, FTP:
		return p, nil
	}
	return "", fmt.Errorf("%w: %q (want echo or ftp)", ErrUnknownProto, s)
}

// New returns a Session for one connection. dir is the FTP session's
// starting directory (ignored by echo). An echo Session carries no state and
// costs no allocation.
func New(p Proto, dir string) Session {
	if p == FTP {
		return &ftpSession{pwd: dir}
	}
	return echoSession{}
}

// echoSession writes back whatever it is given.
type echoSession struct{}

func (echoSession) Open(io.Writer) error { return nil }

func (echoSession) Feed(in []byte, w io.Writer) (int, bool, error) {
	if len(in) == 0 {
		return 0, false, nil
	}
	n, err := w.Write(in)
	return n, false, err
}

// ftpSession is the seed's CommandHandler: the working directory is its only
// state.
type ftpSession struct {
	pwd string // current directory; changed by CWD
	out []byte // replies gathered during one Feed, written at once
}

func (s *ftpSession) Open(w io.Writer) error {
	_, err := io.WriteString(w, Greeting)
	return err
}

// Feed answers every complete line and writes all the answers with one call,
// so pipelined commands cost one write.
func (s *ftpSession) Feed(in []byte, w io.Writer) (int, bool, error) {
	consumed := 0
	quit := false
	s.out = s.out[:0]
	for !quit {
		i := bytes.IndexByte(in[consumed:], '\n')
		if i < 0 {
			if len(in)-consumed >= MaxLine {
				return consumed, true, ErrLineTooLong
			}
			break
		}
		line := in[consumed : consumed+i]
		consumed += i + 1
		line = bytes.TrimSuffix(line, []byte("\r"))
		var reply string
		reply, quit = s.handle(string(line))
		s.out = append(s.out, reply...)
	}
	if len(s.out) > 0 {
		if _, err := w.Write(s.out); err != nil {
			return consumed, true, err
		}
	}
	return consumed, quit, nil
}

// handle answers one command line, as the seed's CommandHandler#handle does:
// the command is the first four bytes, upper-cased and trimmed.
func (s *ftpSession) handle(line string) (reply string, quit bool) {
	cmd, options := line, ""
	if len(line) > 4 {
		cmd, options = line[:4], strings.TrimSpace(line[4:])
	}
	cmd = strings.ToUpper(strings.TrimSpace(cmd))
	switch cmd {
	case "USER":
		return ReplyUser, false
	case "SYST":
		return ReplySyst, false
	case "CWD":
		dir := options
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(s.pwd, dir)
		}
		// A stat of a local directory: quick, but it is disk I/O on the
		// serving goroutine (the evented pattern's loop); see the README.
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			s.pwd = dir
			return "250 directory changed to " + dir + "\r\n", false
		}
		return "550 directory not found\r\n", false
	case "PWD":
		return ReplyPWD(s.pwd), false
	case "QUIT":
		return ReplyQuit, true
	}
	return "502 Don't know how to respond to " + cmd + "\r\n", false
}
