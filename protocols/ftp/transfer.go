package ftp

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"time"
)

// xferKind is the command a transfer serves.
type xferKind uint8

const (
	xRetr xferKind = iota
	xStor
	xAppe
	xStou
	xList
	xNlst
	xMlsd
)

var xferNames = [...]string{"RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD"}

// A transfer is one use of a data connection, from its 150 (or 125) reply
// to its final reply:
//
//	waiting ── data connection open ──► running ── done ──────────► 226
//	   │                                   ├── connection error ──► 426
//	   │                                   ├── disk error ────────► 451
//	   └── accept timeout ─► 425           └── ABOR ──► 426, then 226
//
// The file was opened (or the folder read) off the loop before the 150.
// A binary download is queued on the data connection whole with SendFile
// and the connection closed: its OnClose(nil) means every byte left, and
// brings the 226. Listings and ASCII downloads come from a producer that
// runs on the disk workers one chunk at a time, the next chunk asked for
// while the connection has room. Uploads are written by disk-worker jobs,
// one at a time, and the data connection stops reading while too much
// waits to be written. Loop goroutine only, except where a field says so.
type transfer struct {
	s     *session
	d     *dataChan
	kind  xferKind
	vpath string
	ascii bool
	tls   bool // PROT P: the data connection is secured before use
	phase xferPhase
	start time.Time
	bytes int64 // bytes moved so far, as far as known

	// Binary RETR. file is the transfer's until SendFile takes it.
	file   *os.File // for uploads: written and closed by the writer jobs
	offset int64
	size   int64
	queued int64 // bytes handed to SendFile

	// Producer (listings, ASCII RETR): its next and close run on a disk
	// worker, one call at a time (producing is set meanwhile).
	prod      producer
	producing bool

	// Upload.
	chunks    [][]byte // received, not yet handed to a writer job
	pending   int      // bytes received and not yet written
	writing   bool     // a writer job runs
	peerDone  bool     // the client finished sending (FIN)
	netClosed bool     // the data connection closed cleanly
	fileDone  bool     // the last writer job wrote everything and closed the file
	crPending bool     // ASCII upload: a CR held back; writer jobs only
}

type xferPhase uint8

const (
	xWaiting  xferPhase = iota // for the data connection
	xSecuring                  // for its TLS handshake (see tls.go)
	xRunning
	xDone
)

// Upload flow control: the data connection stops reading above
// uploadPauseAt bytes waiting for the disk, and resumes below
// uploadResumeAt.
const (
	uploadPauseAt  = 4 << 20
	uploadResumeAt = 1 << 20
)

// producer makes a download's bytes chunk by chunk. Its methods run on a
// disk worker, one call at a time; next's result is valid until the next
// call.
type producer interface {
	next() (chunk []byte, eof bool, err error)
	close()
}

func (x *transfer) upload() bool { return x.kind == xStor || x.kind == xAppe || x.kind == xStou }

// needData replies 425 unless PASV or PORT set up a data channel that the
// transfer may use (see dataProtectionOK).
func (s *session) needData() bool {
	if s.data == nil {
		s.reply(425, "Use PORT or PASV first.")
		return false
	}
	return s.dataProtectionOK()
}

// startTransfer begins x on the session's data channel, once its file or
// folder is open: 125 if the data connection is already open, 150 if it
// is yet to come.
func (s *session) startTransfer(x *transfer, opening string) {
	d := s.data
	if d == nil || d.done {
		x.release()
		s.reply(425, "Use PORT or PASV first.")
		return
	}
	x.s, x.d, x.start = s, d, time.Now()
	d.x, s.xfer = x, x
	if x.tls = s.protP; x.tls && x.file != nil && !x.upload() {
		// A binary download over TLS: no sendfile, the bytes must be
		// encrypted on their way.
		x.prod = &fileReader{f: x.file, off: x.offset}
		x.file = nil
	}
	if d.c != nil {
		if x.kind != xStou { // RFC 1123 §4.1.2.9 fixes STOU's text
			opening = "Data connection already open; " + opening
		}
		s.reply(125, opening)
		x.connected()
		return
	}
	s.reply(150, opening)
	if d.timer != nil {
		s.lp.Reset(d.timer, s.srv.cfg.accept) // the wait starts now
	}
}

// connected starts moving bytes once the data connection is open, after
// a TLS handshake under PROT P.
func (x *transfer) connected() {
	if x.phase != xWaiting {
		return
	}
	c := x.d.c
	// A graceful shutdown lets the transfer finish instead of taking the
	// connection for idle between two chunks.
	c.SetBusy(true)
	if x.tls {
		x.startDataTLS(c)
		return
	}
	x.run()
}

// run moves the bytes.
func (x *transfer) run() {
	x.phase = xRunning
	c := x.d.c
	switch {
	case x.upload():
		c.ResumeRead()
	case x.prod != nil:
		x.pump()
	default: // binary RETR
		f := x.file
		x.file = nil
		x.queued = x.size - x.offset
		if err := c.SendFile(f, x.offset, x.queued); err != nil {
			x.fail(426, "Connection closed; transfer aborted.")
			return
		}
		c.Close() // flushes first; OnClose(nil) brings the 226
	}
}

// pump asks the producer for the next chunk, off the loop.
func (x *transfer) pump() {
	if x.producing || x.phase != xRunning {
		return
	}
	x.producing = true
	p := x.prod
	ok := x.s.srv.disk.Go(func() {
		chunk, eof, err := p.next()
		x.s.post(func() { x.produced(chunk, eof, err) }, p.close)
	})
	if !ok {
		x.producing = false
		x.fail(451, "Server shutting down.")
	}
}

// produced sends a chunk and asks for the next while the connection has
// room; OnWritable asks once it has room again.
func (x *transfer) produced(chunk []byte, eof bool, err error) {
	x.producing = false
	if x.phase == xDone {
		x.prod.close()
		return
	}
	if err != nil {
		x.s.srv.cfg.logger.Warn("ftp: reading for a download", "path", x.vpath, "err", err)
		x.fail(451, "Requested action aborted: local error in processing.")
		return
	}
	c := x.d.c
	if len(chunk) > 0 {
		x.bytes += int64(len(chunk))
		c.Write(chunk) // an error closes c and ends x through dataClosed
		if x.phase == xDone {
			return
		}
	}
	if eof {
		x.prod.close()
		x.prod = nil
		c.Close() // flushes first; OnClose(nil) brings the 226
		return
	}
	if c.OutboundLen() <= dataHighWatermark {
		x.pump()
	}
}

// writable runs on the data connection's OnWritable.
func (x *transfer) writable() {
	if x.phase != xRunning {
		return
	}
	if x.prod != nil {
		x.pump()
	} else if x.queued > 0 && x.d.c != nil {
		x.bytes = x.queued - int64(x.d.c.OutboundLen())
	}
}

// received takes an upload's bytes from the data connection.
func (x *transfer) received() {
	c := x.d.c
	b, _ := c.Next(0)
	if len(b) > 0 {
		x.chunks = append(x.chunks, bytes.Clone(b))
		x.pending += len(b)
		x.bytes += int64(len(b))
	}
	if c.PeerClosed() {
		x.peerDone = true
	}
	if x.pending > uploadPauseAt {
		c.PauseRead()
	}
	x.kick()
	if x.peerDone && x.phase != xDone && x.d.c != nil {
		x.d.c.Close() // OnClose(nil) marks the network side done
	}
}

// kick starts a writer job for what waits to be written; the last job,
// once the client is done, closes the file too.
func (x *transfer) kick() {
	if x.writing || x.fileDone || x.phase == xDone {
		return
	}
	final := x.peerDone
	if len(x.chunks) == 0 && !final {
		return
	}
	chunks := x.chunks
	x.chunks = nil
	x.writing = true
	f := x.file
	ok := x.s.srv.disk.Go(func() {
		n, err := x.write(f, chunks, final)
		x.s.post(func() { x.wrote(n, err, final) }, func() {
			if !final {
				f.Close()
			}
		})
	})
	if !ok {
		x.writing = false
		x.fail(451, "Server shutting down.")
	}
}

// write writes chunks to f, converting line ends in ASCII mode, and closes
// f when final. It returns the bytes of chunks consumed. Disk worker only.
func (x *transfer) write(f *os.File, chunks [][]byte, final bool) (int, error) {
	n := 0
	var conv []byte
	for _, b := range chunks {
		out := b
		if x.ascii {
			conv, x.crPending = fromCRLF(conv[:0], b, x.crPending)
			out = conv
		}
		if _, err := f.Write(out); err != nil {
			return n, err
		}
		n += len(b)
	}
	if !final {
		return n, nil
	}
	var err error
	if x.ascii && x.crPending {
		_, err = f.Write([]byte{'\r'})
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// wrote takes a writer job's result back on the loop.
func (x *transfer) wrote(n int, err error, final bool) {
	x.writing = false
	x.pending -= n
	if final {
		x.file = nil
	}
	if x.phase == xDone {
		if x.file != nil {
			x.file.Close()
			x.file = nil
		}
		return
	}
	if err != nil {
		x.s.srv.cfg.logger.Warn("ftp: writing an upload", "path", x.vpath, "err", err)
		x.fail(451, "Failure writing to local file: "+errReply(err))
		return
	}
	if final {
		x.fileDone = true
		if x.netClosed {
			x.complete()
		}
		return
	}
	if x.pending < uploadResumeAt && x.d.c != nil {
		x.d.c.ResumeRead()
	}
	x.kick()
}

// dataClosed ends the transfer when its data connection closes.
func (x *transfer) dataClosed(err error) {
	if x.phase == xDone {
		return
	}
	switch {
	case x.phase == xSecuring:
		x.s.srv.cfg.logger.Info("ftp: TLS handshake on a data connection failed", "remote", x.s.peer, "path", x.vpath, "err", err)
		x.fail(522, "SSL connection failed: TLS handshake on the data connection did not complete.")
	case err != nil:
		x.s.srv.cfg.logger.Debug("ftp: data connection failed", "path", x.vpath, "err", err)
		x.fail(426, "Connection closed; transfer aborted.")
	case x.upload():
		x.netClosed = true
		if !x.peerDone {
			x.fail(426, "Connection closed; transfer aborted.")
		} else if x.fileDone {
			x.complete()
		}
	case x.queued > 0:
		x.bytes = x.queued
		x.complete()
	case x.prod == nil:
		x.complete() // the producer reached its end; Close flushed it all
	default:
		x.fail(426, "Connection closed; transfer aborted.")
	}
}

// complete ends the transfer with 226.
func (x *transfer) complete() {
	x.end("complete")
	x.s.reply(226, "Transfer complete.")
	x.s.afterTransfer()
}

// fail ends the transfer with an error reply.
func (x *transfer) fail(code int, msg string) {
	x.end("failed")
	x.s.reply(code, msg)
	x.s.afterTransfer()
}

// abort ends the transfer without a reply (ABOR, or the session ended).
func (x *transfer) abort() { x.end("aborted") }

// end stops the transfer: the data connection is reset if still open,
// what the transfer holds is released, and the transfer log gets a line.
func (x *transfer) end(status string) {
	if x.phase == xDone {
		return
	}
	if x.queued > 0 && x.d.c != nil {
		x.bytes = x.queued - int64(x.d.c.OutboundLen())
	}
	x.phase = xDone
	s := x.s
	x.d.x = nil
	x.d.discard()
	if s.data == x.d {
		s.data = nil
	}
	if s.xfer == x {
		s.xfer = nil
	}
	x.release()
	if x.kind <= xStou {
		dir := "download"
		if x.upload() {
			dir = "upload"
		}
		typ := "binary"
		if x.ascii {
			typ = "ascii"
		}
		s.srv.xlog.Info("ftp transfer", "user", s.userName(), "remote", s.peer.String(),
			"direction", dir, "command", xferNames[x.kind], "path", x.vpath, "type", typ,
			"bytes", x.bytes, "duration", time.Since(x.start).Round(time.Microsecond), "status", status)
	}
}

// release closes what the transfer holds, unless a worker job holds it
// right now (the job's return releases it then).
func (x *transfer) release() {
	if x.file != nil && !x.writing {
		x.file.Close()
		x.file = nil
	}
	if x.prod != nil && !x.producing {
		x.prod.close()
		x.prod = nil
	}
	x.chunks = nil
}

// status describes the transfer for STAT.
func (x *transfer) status() string {
	b := x.bytes
	if x.queued > 0 && x.d.c != nil {
		b = x.queued - int64(x.d.c.OutboundLen())
	}
	return "Transfer in progress: " + xferNames[x.kind] + " " + safe(x.vpath) + ", " + strconv.FormatInt(b, 10) + " bytes"
}

// afterTransfer runs after a transfer's final reply: a pending QUIT closes
// the session, and a command that waited may run.
func (s *session) afterTransfer() {
	if s.quitting {
		s.closeAfterReply()
		return
	}
	s.deferred = false
}

// userName is the logged-in user's name, or what USER gave.
func (s *session) userName() string {
	if s.acct != nil {
		return s.acct.name
	}
	return s.user
}

// asciiReader is the producer of an ASCII download: the file from off (the
// REST offset, a byte offset in the file as vsftpd has it) with LF turned
// into CR LF.
type asciiReader struct {
	f      *os.File
	off    int64 // where the next read starts
	buf    []byte
	out    []byte
	prevCR bool
}

func (r *asciiReader) next() ([]byte, bool, error) {
	if r.buf == nil {
		r.buf = make([]byte, 32<<10)
		if r.off > 0 {
			// An LF right after the offset ends a CR LF the client has the
			// CR of already: it must not get another.
			n, err := r.f.ReadAt(r.buf[:1], r.off-1)
			if err != nil && err != io.EOF {
				return nil, false, err
			}
			r.prevCR = n == 1 && r.buf[0] == '\r'
		}
	}
	n, err := r.f.ReadAt(r.buf, r.off)
	r.off += int64(n)
	r.out, r.prevCR = toCRLF(r.out[:0], r.buf[:n], r.prevCR)
	if err == io.EOF {
		return r.out, true, nil
	}
	return r.out, false, err
}

func (r *asciiReader) close() { r.f.Close() }
