package conn

import (
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/reactorkit/reactor/internal/sock"
)

// ChunkSize is the size of the pooled chunks that small writes are queued
// in; a write of ChunkSize or more that must be queued gets a chunk of its own.
const ChunkSize = 16 << 10

// maxFreeChunks bounds a BufferPool: 64 chunks, 1 MiB per loop.
const maxFreeChunks = 64

// BufferPool recycles outbound chunks among the connections of one loop. It
// is not goroutine-safe: each loop has its own.
type BufferPool struct {
	free [][]byte // spare chunks, each with capacity ChunkSize and length 0
}

// get returns an empty chunk of capacity ChunkSize.
func (p *BufferPool) get() []byte {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	return make([]byte, 0, ChunkSize)
}

// put keeps b for reuse if it is a pooled chunk and the pool has room.
func (p *BufferPool) put(b []byte) {
	if cap(b) == ChunkSize && len(p.free) < maxFreeChunks {
		p.free = append(p.free, b[:0])
	}
}

// outQueue is a connection's queued outbound bytes: chunks sent in order,
// the first one partly sent up to its off.
type outQueue struct {
	chunks []outChunk
	n      int // bytes queued in all chunks
}

type outChunk struct {
	b    []byte   // the bytes; a pooled chunk has capacity ChunkSize
	off  int      // bytes of b already sent
	file *fileSeg // a file segment instead of bytes; nil for bytes
}

// fileSeg is a range of a file queued by SendFile; the connection owns f and
// closes it when the range is sent or the connection closes.
type fileSeg struct {
	f        *os.File
	pos, end int64 // the next offset to send and the end of the range
}

// sendfileChunk bounds one sendfile(2) call, so a large file is sent in
// pieces and other connections of the loop get their turn in between.
const sendfileChunk = 1 << 20

// push appends a copy of p, filling the last pooled chunk first.
func (q *outQueue) push(pool *BufferPool, p []byte) {
	q.n += len(p)
	for len(p) > 0 {
		if k := len(q.chunks); k > 0 {
			last := &q.chunks[k-1]
			if cap(last.b) == ChunkSize && len(last.b) < ChunkSize {
				m := min(ChunkSize-len(last.b), len(p))
				last.b = append(last.b, p[:m]...)
				p = p[m:]
				continue
			}
		}
		if len(p) >= ChunkSize {
			q.chunks = append(q.chunks, outChunk{b: append(make([]byte, 0, len(p)+1), p...)})
			return
		}
		q.chunks = append(q.chunks, outChunk{b: pool.get()})
	}
}

// pushOwned appends b without copying when it is large; the queue takes b
// over.
func (q *outQueue) pushOwned(pool *BufferPool, b []byte) {
	if len(b) < ChunkSize {
		q.push(pool, b)
		return
	}
	q.n += len(b)
	if cap(b) == ChunkSize {
		b = b[:len(b):len(b)] // never mistake it for a pooled chunk
	}
	q.chunks = append(q.chunks, outChunk{b: b})
}

// writeTo sends queued bytes with one writev (or, when a file segment is
// first, one sendfile) and drops what was sent. It returns the bytes sent and
// the bytes it tried to send.
func (q *outQueue) writeTo(fd int, pool *BufferPool) (n, tried int, err error) {
	if fs := q.chunks[0].file; fs != nil {
		tried = int(min(fs.end-fs.pos, sendfileChunk))
		n, err = sock.Sendfile(fd, int(fs.f.Fd()), &fs.pos, tried)
		if n == 0 && err == nil {
			err = io.ErrUnexpectedEOF // the file is shorter than the range queued
		}
		if n > 0 {
			q.n -= n
		}
		if fs.pos >= fs.end {
			fs.f.Close()
			q.chunks[0] = outChunk{}
			q.consume(0, pool)
		}
		return n, tried, err
	}
	var iov [sock.IovMax]unix.Iovec
	k := 0
	for i := range q.chunks {
		if k == len(iov) || tried >= sock.MaxRW || q.chunks[i].file != nil {
			break
		}
		b := q.chunks[i].b[q.chunks[i].off:]
		iov[k].Base = &b[0]
		iov[k].SetLen(len(b))
		tried += len(b)
		k++
	}
	n, err = sock.Writev(fd, iov[:k])
	if n > 0 {
		q.consume(n, pool)
	}
	return n, tried, err
}

// consume drops n sent bytes from the front of the queue, and the emptied
// chunks (a finished file segment is zeroed by writeTo).
func (q *outQueue) consume(n int, pool *BufferPool) {
	q.n -= n
	done := 0
	for done < len(q.chunks) && (n > 0 || q.chunks[done].b == nil && q.chunks[done].file == nil) {
		ch := &q.chunks[done]
		left := len(ch.b) - ch.off
		if n < left {
			ch.off += n
			break
		}
		n -= left
		pool.put(ch.b)
		*ch = outChunk{}
		done++
	}
	if q.n == 0 {
		q.chunks = nil // an idle connection holds no queue memory
		return
	}
	if done > 0 {
		copy(q.chunks, q.chunks[done:])
		clear(q.chunks[len(q.chunks)-done:])
		q.chunks = q.chunks[:len(q.chunks)-done]
	}
}

// release gives every chunk back, closes queued files, and empties the
// queue.
func (q *outQueue) release(pool *BufferPool) {
	for _, ch := range q.chunks {
		if ch.file != nil {
			ch.file.f.Close()
		}
		pool.put(ch.b)
	}
	q.chunks, q.n = nil, 0
}

// SendFile queues count bytes of f from offset, in order after what is
// already queued, to be sent with sendfile(2) in bounded chunks: the bytes
// go from the page cache to the socket without passing through user space.
// The connection owns f from now on and closes it once the range is sent or
// the connection closes. count < 0 means up to the end of the file. The
// queued bytes count towards OutboundLen and the watermarks; to act once they
// are sent, Close (which flushes first) and act in OnClose, or watch
// OnWritable. A TLS connection must encrypt what it sends, so there SendFile
// returns ErrSendFileTLS: read the file off the loop and Write it.
// Loop goroutine only.
func (c *Conn) SendFile(f *os.File, offset, count int64) error {
	if c.flags&(flagClosing|flagClosed|flagWriteShut) != 0 {
		f.Close()
		return ErrClosed
	}
	if c.tls != nil {
		f.Close()
		return ErrSendFileTLS
	}
	if count < 0 {
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		count = max(st.Size()-offset, 0)
	}
	if count == 0 {
		f.Close()
		return nil
	}
	c.out.chunks = append(c.out.chunks, outChunk{file: &fileSeg{f: f, pos: offset, end: offset + count}})
	c.out.n += int(count)
	c.queuedGrew()
	return nil
}

// Write sends p, or queues what the socket does not take at once; it copies
// what it queues, so the caller may reuse p when Write returns. It returns
// len(p) and nil unless the connection is closed (ErrClosed) or the socket
// failed (the connection then closes with that error). Loop goroutine only.
func (c *Conn) Write(p []byte) (int, error) {
	if c.flags&(flagClosing|flagClosed|flagWriteShut) != 0 {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.tls != nil {
		return c.writeTLS(p)
	}
	return c.writePlain(p)
}

// writePlain is Write below any TLS layer: the bytes go to the socket as they
// are. The TLS transport writes ciphertext with it.
func (c *Conn) writePlain(p []byte) (int, error) {
	if c.flags&flagClosed != 0 {
		return 0, ErrClosed
	}
	total := len(p)
	if c.out.n == 0 {
		n, err := sock.Write(c.fd, p)
		if err != nil && err != unix.EAGAIN {
			err = c.opError("write", err)
			c.finish(err)
			return 0, err
		}
		c.sent(n)
		if n == len(p) {
			return total, nil
		}
		p = p[n:]
	}
	c.out.push(c.owner.Pool(), p)
	c.queuedGrew()
	return total, nil
}

// Writev sends the buffers in order as one stream, like Write on their
// concatenation, with one writev when nothing is queued. Loop goroutine only.
func (c *Conn) Writev(bufs [][]byte) (int, error) {
	if c.flags&(flagClosing|flagClosed|flagWriteShut) != 0 {
		return 0, ErrClosed
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if total == 0 {
		return 0, nil
	}
	if c.tls != nil {
		var all []byte
		for _, b := range bufs {
			all = append(all, b...)
		}
		return c.writeTLS(all)
	}
	sent := 0
	if c.out.n == 0 {
		var iov [sock.IovMax]unix.Iovec
		k := 0
		for _, b := range bufs {
			if len(b) == 0 {
				continue
			}
			if k == len(iov) {
				break
			}
			iov[k].Base = &b[0]
			iov[k].SetLen(len(b))
			k++
		}
		n, err := sock.Writev(c.fd, iov[:k])
		if err != nil && err != unix.EAGAIN {
			err = c.opError("writev", err)
			c.finish(err)
			return 0, err
		}
		c.sent(n)
		sent = n
	}
	if sent == total {
		return total, nil
	}
	pool := c.owner.Pool()
	for _, b := range bufs {
		if sent >= len(b) {
			sent -= len(b)
			continue
		}
		c.out.push(pool, b[sent:])
		sent = 0
	}
	c.queuedGrew()
	return total, nil
}

// AsyncWrite queues a copy of p to be written on the connection's loop, in
// the order AsyncWrite calls return. It returns ErrAsyncWriteLimit, and queues
// nothing, when the bytes accepted but not yet queued plus those queued would
// exceed the async write limit; ErrClosed once the connection has closed.
// Bytes accepted by a connection that closes before they are sent are
// dropped. Safe for concurrent use.
func (c *Conn) AsyncWrite(p []byte) error {
	if c.done.Load() {
		return ErrClosed
	}
	n := int64(len(p))
	if c.asyncPending.Add(n)+c.queued.Load() > int64(c.cfg.AsyncWriteLimit) {
		c.asyncPending.Add(-n)
		return ErrAsyncWriteLimit
	}
	b := append([]byte(nil), p...)
	err := c.owner.Submit(func() {
		// Queue first, then stop counting the bytes as pending: the other
		// order would let a concurrent AsyncWrite see them in neither count.
		c.writeOwned(b)
		c.asyncPending.Add(-n)
	})
	if err != nil {
		c.asyncPending.Add(-n)
	}
	return err
}

// writeOwned is Write for a slice the connection may keep.
func (c *Conn) writeOwned(b []byte) {
	if c.flags&(flagClosing|flagClosed|flagWriteShut) != 0 || len(b) == 0 {
		return
	}
	if c.out.n > 0 && c.tls == nil {
		c.out.pushOwned(c.owner.Pool(), b)
		c.queuedGrew()
		return
	}
	c.Write(b)
}

// flushBudget bounds the bytes one writable event sends on one connection;
// a fast reader of a large queue (a file download on loopback) must not keep
// the loop from its other connections.
const flushBudget = 4 << 20

// OutboundLen returns the number of bytes queued and not yet sent (with
// plaintext written during a TLS handshake, which waits for it).
// Loop goroutine only.
func (c *Conn) OutboundLen() int { return c.outboundLen() }

func (c *Conn) outboundLen() int {
	if c.tls != nil {
		return c.out.n + c.tls.pendingN
	}
	return c.out.n
}

// sent records n bytes written straight to the socket.
func (c *Conn) sent(n int) {
	if n <= 0 {
		return
	}
	c.owner.Counters().BytesOut.Add(uint64(n))
	if c.cfg.IdleTimeout > 0 {
		c.activeAt = c.owner.Now()
	}
}

// setQueued publishes the queue's length for AsyncWrite's limit and adds the
// change to the loop's total.
func (c *Conn) setQueued() {
	n := int64(c.outboundLen())
	if old := c.queued.Swap(n); old != n {
		c.owner.Counters().Queued.Add(n - old)
	}
}

// queuedGrew runs after bytes were queued: it asks for write interest,
// starts the write timeout and, above the high watermark, stops reading.
func (c *Conn) queuedGrew() {
	c.setQueued()
	if c.writeSince == 0 && c.cfg.WriteTimeout > 0 {
		c.writeSince = c.owner.Now()
		c.armTimer()
	}
	if c.outboundLen() > c.cfg.WriteHighWatermark && c.flags&flagBackpressure == 0 {
		c.flags |= flagBackpressure
		c.readSince = 0
	}
	c.updateInterest()
}

// flush writes queued bytes while the socket takes them, then finishes what
// waited for the queue to drain: a Close, a CloseWrite, or the end of
// backpressure (reading resumes and OnWritable runs).
func (c *Conn) flush() {
	pool := c.owner.Pool()
	progressed := false
	for budget := flushBudget; c.out.n > 0 && budget > 0; {
		n, tried, err := c.out.writeTo(c.fd, pool)
		budget -= n
		if err != nil {
			if err == unix.EAGAIN {
				break
			}
			c.finish(c.opError("writev", err))
			return
		}
		if n > 0 {
			progressed = true
			c.owner.Counters().BytesOut.Add(uint64(n))
		}
		if n < tried {
			break // the socket's send buffer is full
		}
	}
	c.setQueued()
	if progressed {
		now := c.owner.Now()
		if c.cfg.IdleTimeout > 0 {
			c.activeAt = now
		}
		if c.out.n > 0 && c.writeSince != 0 {
			c.writeSince = now
		}
	}
	if c.out.n == 0 {
		c.writeSince = 0
		switch {
		case c.flags&flagClosing != 0:
			c.finish(nil)
			return
		case c.flags&flagWriteShut != 0 && c.flags&flagWriteShutDone == 0:
			c.shutWrite()
			if c.flags&flagClosed != 0 {
				return
			}
		}
	}
	if c.flags&flagBackpressure != 0 && c.out.n <= c.cfg.WriteLowWatermark {
		c.flags &^= flagBackpressure
		c.noteInbound()
		c.updateInterest()
		c.call(callWritable)
		if c.flags&flagClosed != 0 {
			return
		}
	}
	c.updateInterest()
}
