package handler

import (
	"errors"
	"io"
	"net"
)

// BufferSize is the read buffer each blocking connection owns (16 KiB, the
// seed's Evented CHUNK_SIZE). It is the bulk of what an idle connection costs
// in the blocking patterns.
const BufferSize = 16 << 10

// Serve runs one connection to its end with blocking reads and writes: the
// loop shared by the serial, process-per-connection, goroutine-per-connection,
// preforking and worker-pool patterns. It closes c before returning and
// returns nil when the peer closed cleanly or quit.
func Serve(c net.Conn, p Proto, dir string) error {
	defer c.Close()
	s := New(p, dir)
	if err := s.Open(c); err != nil {
		return err
	}
	buf := make([]byte, BufferSize)
	have := 0 // bytes of an incomplete frame kept at the start of buf
	for {
		n, err := c.Read(buf[have:])
		have += n
		if have > 0 {
			used, quit, ferr := s.Feed(buf[:have], c)
			have = copy(buf, buf[used:have])
			if ferr != nil || quit {
				return ferr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
