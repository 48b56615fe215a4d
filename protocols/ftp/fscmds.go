package ftp

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// File-system errors, matched by errReply.
var (
	errEscapes          = errors.New("ftp: path outside the root")
	errNotRegular       = errors.New("ftp: not a regular file")
	errNotDir     error = syscall.ENOTDIR
	errIsDir      error = syscall.EISDIR
	errNotEmpty   error = syscall.ENOTEMPTY
	errNoSpace    error = syscall.ENOSPC
	errExist            = fs.ErrExist
	errNotExist         = fs.ErrNotExist
	errPermission       = fs.ErrPermission
)

// errRestPastEnd is a REST offset beyond the end of the file (RFC 1123
// §4.1.3.4 suggests 554).
var errRestPastEnd = errors.New("ftp: REST offset past the end of the file")

// fsCall runs op on a disk worker and replies with ok's result, or 550 and
// the error. The session reads no further command meanwhile.
func (s *session) fsCall(op func(r *os.Root) error, ok func()) {
	root := s.acct.root
	s.await(s.srv.disk, func() (func(), func()) {
		err := op(root)
		return func() {
			if err != nil {
				s.reply(550, errReply(err))
				return
			}
			ok()
		}, nil
	})
}

func (s *session) cmdCWD(arg string) {
	if arg == "" {
		arg = "/" // pyftpdlib: CWD alone goes to the root
	}
	p, _ := resolve(s.cwd, arg, true) // CWD above the root stays at the root
	s.changeDir(p)
}

func (s *session) cmdCDUP(string) {
	p, _ := resolve(s.cwd, "..", true)
	s.changeDir(p)
}

func (s *session) changeDir(p string) {
	s.fsCall(func(r *os.Root) error {
		fi, err := r.Stat(rel(p))
		if err == nil && !fi.IsDir() {
			err = errNotDir
		}
		return err
	}, func() {
		s.cwd = p
		s.reply(250, "Directory successfully changed.")
	})
}

func (s *session) cmdMKD(arg string) {
	p, ok := s.path(arg)
	if !ok || !s.writable() {
		return
	}
	s.fsCall(func(r *os.Root) error { return r.Mkdir(rel(p), 0o755) }, func() {
		s.reply(257, `"`+quote(p)+`" created.`)
	})
}

func (s *session) cmdRMD(arg string) {
	p, ok := s.path(arg)
	if !ok || !s.writable() {
		return
	}
	if p == "/" {
		s.reply(550, "Can't remove root directory.")
		return
	}
	s.fsCall(func(r *os.Root) error { return removeKind(r, rel(p), true) }, func() {
		s.reply(250, "Remove directory operation successful.")
	})
}

func (s *session) cmdDELE(arg string) {
	p, ok := s.path(arg)
	if !ok || !s.writable() {
		return
	}
	s.fsCall(func(r *os.Root) error { return removeKind(r, rel(p), false) }, func() {
		s.reply(250, "Delete operation successful.")
	})
}

// removeKind removes name if it is a directory and dir is true (RMD), or
// is not one and dir is false (DELE), and fails with errNotDir or errIsDir
// otherwise: os.Root.Remove alone would let DELE remove an empty directory
// and RMD a file. A symlink is not followed, so it counts as a file. Disk
// worker only.
func removeKind(r *os.Root, name string, dir bool) error {
	fi, err := r.Lstat(name)
	switch {
	case err != nil:
		return err
	case dir && !fi.IsDir():
		return errNotDir
	case !dir && fi.IsDir():
		return errIsDir
	}
	return r.Remove(name)
}

func (s *session) cmdRNFR(arg string) {
	p, ok := s.path(arg)
	if !ok || !s.writable() {
		return
	}
	if p == "/" {
		s.reply(550, "Can't rename home directory.")
		return
	}
	s.fsCall(func(r *os.Root) error {
		_, err := r.Lstat(rel(p))
		return err
	}, func() {
		s.rnfr = p
		s.reply(350, "Ready for RNTO.")
	})
}

func (s *session) cmdRNTO(arg string) {
	from := s.rnfr
	s.rnfr = ""
	if from == "" {
		s.reply(503, "RNFR required first.")
		return
	}
	p, ok := s.path(arg)
	if !ok || !s.writable() {
		return
	}
	if p == "/" {
		s.reply(550, "Can't rename onto the root directory.")
		return
	}
	s.fsCall(func(r *os.Root) error { return r.Rename(rel(from), rel(p)) }, func() {
		s.reply(250, "Rename successful.")
	})
}

func (s *session) cmdSIZE(arg string) {
	p, ok := s.path(arg)
	if !ok {
		return
	}
	var size int64
	s.fsCall(func(r *os.Root) error {
		fi, err := statRegular(r, rel(p))
		if err == nil {
			size = fi.Size()
		}
		return err
	}, func() { s.reply(213, strconv.FormatInt(size, 10)) })
}

func (s *session) cmdMDTM(arg string) {
	p, ok := s.path(arg)
	if !ok {
		return
	}
	var mt time.Time
	s.fsCall(func(r *os.Root) error {
		fi, err := statRegular(r, rel(p))
		if err == nil {
			mt = fi.ModTime()
		}
		return err
	}, func() { s.reply(213, mt.UTC().Format("20060102150405")) })
}

// statRegular stats name, following a symlink, and fails with errNotRegular
// unless it is a regular file: SIZE, MDTM and MFMT act on files only. Disk
// worker only.
func statRegular(r *os.Root, name string) (fs.FileInfo, error) {
	fi, err := r.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	return fi, nil
}

func (s *session) cmdMFMT(arg string) {
	ts, name, found := strings.Cut(arg, " ")
	if !found || name == "" {
		s.reply(501, "Syntax error: MFMT needs a time and a path.")
		return
	}
	mt, err := time.Parse("20060102150405", ts)
	if err != nil || len(ts) != 14 {
		s.reply(501, "Invalid time format; expected: YYYYMMDDHHMMSS.")
		return
	}
	p, ok := s.path(name)
	if !ok || !s.writable() {
		return
	}
	s.fsCall(func(r *os.Root) error {
		if _, err := statRegular(r, rel(p)); err != nil {
			return err
		}
		return r.Chtimes(rel(p), time.Time{}, mt)
	}, func() { s.reply(213, "Modify="+ts+"; "+safe(p)) })
}

// siteCHMOD is SITE CHMOD mode path.
func (s *session) siteCHMOD(arg string) {
	ms, name, found := strings.Cut(arg, " ")
	mode, err := strconv.ParseUint(ms, 8, 32)
	if !found || name == "" || err != nil || len(ms) < 3 || len(ms) > 4 || mode > 0o7777 {
		s.reply(501, "Invalid SITE CHMOD format.")
		return
	}
	p, ok := s.path(name)
	if !ok || !s.writable() {
		return
	}
	s.fsCall(func(r *os.Root) error {
		m := fs.FileMode(mode & 0o777)
		if mode&0o4000 != 0 {
			m |= fs.ModeSetuid
		}
		if mode&0o2000 != 0 {
			m |= fs.ModeSetgid
		}
		if mode&0o1000 != 0 {
			m |= fs.ModeSticky
		}
		return r.Chmod(rel(p), m)
	}, func() { s.reply(200, "SITE CHMOD command ok.") })
}

// Downloads.

func (s *session) cmdRETR(arg string) {
	p, ok := s.path(arg)
	if !ok || !s.needData() {
		return
	}
	off := s.restart
	s.restart = 0
	ascii := !s.binary
	root := s.acct.root
	s.await(s.srv.disk, func() (func(), func()) {
		f, size, err := openDownload(root, rel(p), off)
		if err != nil {
			return func() { s.replyOpenError(err) }, nil
		}
		return func() {
			x := &transfer{kind: xRetr, vpath: p, ascii: ascii, file: f, offset: off, size: size}
			mode := "BINARY"
			if ascii {
				x.prod = &asciiReader{f: f, off: off}
				x.file = nil
				mode = "ASCII"
			}
			s.startTransfer(x, "Opening "+mode+" mode data connection for "+safe(base(p))+" ("+strconv.FormatInt(size, 10)+" bytes).")
		}, func() { f.Close() }
	})
}

// openDownload opens a regular file for RETR and checks the REST offset.
// Disk worker only.
func openDownload(r *os.Root, name string, off int64) (*os.File, int64, error) {
	f, err := r.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
	case !fi.Mode().IsRegular():
		err = errNotRegular
	case off > fi.Size():
		err = errRestPastEnd
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// replyOpenError answers a failed open of a transfer's file.
func (s *session) replyOpenError(err error) {
	if errors.Is(err, errRestPastEnd) {
		s.reply(554, "Requested action not taken: invalid REST parameter.")
		return
	}
	s.reply(550, "Failed to open file: "+errReply(err))
}

// Uploads.

func (s *session) cmdSTOR(arg string) { s.store(xStor, arg) }

func (s *session) cmdAPPE(arg string) {
	if s.restart != 0 {
		s.reply(450, "Can't APPE while REST request is pending.")
		return
	}
	s.store(xAppe, arg)
}

func (s *session) cmdSTOU(arg string) {
	if s.restart != 0 {
		s.reply(450, "Can't STOU while REST request is pending.")
		return
	}
	s.store(xStou, arg)
}

// store opens the file an upload writes, off the loop, then starts the
// transfer.
func (s *session) store(kind xferKind, arg string) {
	name := arg
	if kind == xStou && name == "" {
		name = "ftpd"
	}
	p, ok := s.path(name)
	if !ok || !s.writable() || !s.needData() {
		return
	}
	if p == "/" {
		s.reply(553, "Could not create file: Is a directory.")
		return
	}
	off := s.restart
	s.restart = 0
	ascii := !s.binary
	root := s.acct.root
	s.await(s.srv.disk, func() (func(), func()) {
		f, final, err := openUpload(root, kind, p, off, arg == "")
		if err != nil {
			return func() {
				s.replyUploadError(kind, err)
			}, nil
		}
		return func() {
			x := &transfer{kind: kind, vpath: final, ascii: ascii, file: f, offset: off}
			msg := "Ok to send data."
			if kind == xStou {
				msg = "FILE: " + safe(base(final))
			}
			s.startTransfer(x, msg)
		}, func() { f.Close() }
	})
}

// replyUploadError answers a failed open of an upload's file. When the
// system refused to open or create it (a missing folder, a folder in its
// place, no permission, a read-only file system), the reply is vsftpd's
// 553 "Could not create file"; a name os.Root refuses because it leads
// outside the root stays a 550, as it is for every command.
func (s *session) replyUploadError(kind xferKind, err error) {
	var errno syscall.Errno
	switch {
	case kind == xStou && errors.Is(err, errExist):
		s.reply(450, "No usable unique file name found.")
	case errors.As(err, &errno):
		s.reply(553, "Could not create file: "+errReply(err))
	default:
		s.replyOpenError(err)
	}
}

// openUpload opens or creates the file of STOR, APPE or STOU; it returns
// the virtual path written (STOU picks a unique one). Disk worker only.
func openUpload(r *os.Root, kind xferKind, vpath string, off int64, random bool) (*os.File, string, error) {
	switch kind {
	case xAppe:
		f, err := r.OpenFile(rel(vpath), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		return f, vpath, err
	case xStou:
		for i := range 100 {
			cand := vpath
			switch {
			case random:
				cand = fmt.Sprintf("%s.%06d", vpath, rand.IntN(1e6))
			case i > 0:
				cand = vpath + "." + strconv.Itoa(i)
			}
			f, err := r.OpenFile(rel(cand), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if !errors.Is(err, errExist) {
				return f, cand, err
			}
		}
		return nil, "", errExist
	}
	if off == 0 {
		f, err := r.OpenFile(rel(vpath), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		return f, vpath, err
	}
	// REST then STOR: resume an existing file at off, dropping what lay
	// beyond.
	f, err := r.OpenFile(rel(vpath), os.O_WRONLY, 0)
	if err != nil {
		return nil, "", err
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
	case !fi.Mode().IsRegular():
		err = errNotRegular
	case off > fi.Size():
		err = errRestPastEnd
	default:
		if err = f.Truncate(off); err == nil {
			_, err = f.Seek(off, 0)
		}
	}
	if err != nil {
		f.Close()
		return nil, "", err
	}
	return f, vpath, nil
}

// Listings.

// listStyle is the format of a listing.
type listStyle uint8

const (
	styleLong  listStyle = iota // LIST, STAT: ls -l lines
	styleNames                  // NLST: names only
	styleFacts                  // MLSD: RFC 3659 facts
)

// lister is the producer of a listing: a folder's sorted names, formatted
// a chunk at a time, or a single file's line.
type lister struct {
	style listStyle
	facts factSet
	write bool
	now   time.Time

	dir   *os.Root // the folder listed; nil for a single file
	names []string // sorted
	i     int      // next name

	single     fs.FileInfo // the file listed when not a folder (Lstat)
	singleName string

	buf []byte
}

// listChunk is the size lister.next aims for.
const listChunk = 32 << 10

// openLister reads the folder (or stats the file) vpath names, after
// waiting delay (config.folderDelay; 0 outside tests). Disk worker only.
func openLister(r *os.Root, vpath string, style listStyle, facts factSet, write bool, delay time.Duration) (*lister, error) {
	if delay > 0 {
		time.Sleep(delay)
	}
	l := &lister{style: style, facts: facts, write: write, now: time.Now()}
	fi, err := r.Stat(rel(vpath))
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		if style == styleFacts {
			return nil, errNotDir
		}
		if l.single, err = r.Lstat(rel(vpath)); err != nil {
			return nil, err
		}
		l.singleName = base(vpath)
		return l, nil
	}
	d, err := r.OpenRoot(rel(vpath))
	if err != nil {
		return nil, err
	}
	f, err := d.Open(".")
	if err == nil {
		l.names, err = f.Readdirnames(-1)
		f.Close()
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	sort.Strings(l.names) // RFC 959 §4.1.3 suggests a sorted list
	l.dir = d
	return l, nil
}

func (l *lister) next() ([]byte, bool, error) {
	l.buf = l.buf[:0]
	if l.dir == nil {
		if l.single != nil {
			l.buf = l.entry(l.buf, nil, l.singleName, l.single)
			l.single = nil
		}
		return l.buf, true, nil
	}
	for ; l.i < len(l.names) && len(l.buf) < listChunk; l.i++ {
		name := l.names[l.i]
		if l.style == styleNames {
			l.buf = append(l.buf, safe(name)...)
			l.buf = append(l.buf, '\r', '\n')
			continue
		}
		var fi fs.FileInfo
		var err error
		if l.style == styleFacts {
			fi, err = l.dir.Stat(name) // facts describe what a link points to
		} else {
			fi, err = l.dir.Lstat(name)
		}
		if err != nil {
			continue // vanished, or a link out of the root
		}
		l.buf = l.entry(l.buf, l.dir, name, fi)
	}
	return l.buf, l.i >= len(l.names), nil
}

// entry formats one entry.
func (l *lister) entry(b []byte, d *os.Root, name string, fi fs.FileInfo) []byte {
	switch l.style {
	case styleNames:
		b = append(b, safe(name)...)
		return append(b, '\r', '\n')
	case styleFacts:
		typ := "file"
		if fi.IsDir() {
			typ = "dir"
		}
		b = appendFacts(b, l.facts, fi, typ, l.write)
		b = append(b, safe(name)...)
		return append(b, '\r', '\n')
	}
	target := ""
	if fi.Mode()&fs.ModeSymlink != 0 && d != nil {
		target, _ = d.Readlink(name)
	}
	return appendLsLine(b, name, fi, target, l.now)
}

func (l *lister) close() {
	if l.dir != nil {
		l.dir.Close()
		l.dir = nil
	}
	l.names = nil
}

// listArg drops the ls options (-a, -l, -la, …) some clients send with
// LIST and NLST; the rest is the path.
func listArg(arg string) string {
	for strings.HasPrefix(arg, "-") {
		_, rest, _ := strings.Cut(arg, " ")
		arg = strings.TrimLeft(rest, " ")
	}
	return arg
}

func (s *session) cmdLIST(arg string) { s.list(xList, styleLong, listArg(arg)) }
func (s *session) cmdNLST(arg string) { s.list(xNlst, styleNames, listArg(arg)) }
func (s *session) cmdMLSD(arg string) { s.list(xMlsd, styleFacts, arg) }

// list sends a listing over the data connection.
func (s *session) list(kind xferKind, style listStyle, arg string) {
	p, ok := s.path(arg)
	if !ok || !s.needData() {
		return
	}
	root, facts, write, delay := s.acct.root, s.facts, s.acct.write, s.srv.cfg.folderDelay
	s.await(s.srv.disk, func() (func(), func()) {
		l, err := openLister(root, p, style, facts, write, delay)
		if err != nil {
			return func() {
				if style == styleFacts && errors.Is(err, errNotDir) {
					s.reply(501, "Not a directory.") // RFC 3659 §7.2.1
					return
				}
				s.reply(550, "Failed to list: "+errReply(err))
			}, nil
		}
		return func() {
			s.startTransfer(&transfer{kind: kind, vpath: p, prod: l}, "Here comes the directory listing.")
		}, l.close
	})
}

// statLimit bounds a STAT listing sent over the control connection.
const statLimit = 16 << 20

// statPath is STAT with a path: the LIST lines over the control connection
// (RFC 959 §4.1.3), between 213 lines.
func (s *session) statPath(arg string) {
	if s.state != loggedIn {
		s.reply(530, "Please login with USER and PASS.")
		return
	}
	if strings.ContainsAny(arg, "*?[") {
		s.reply(550, "Globbing not supported.")
		return
	}
	p, ok := s.path(listArg(arg))
	if !ok {
		return
	}
	root, delay := s.acct.root, s.srv.cfg.folderDelay
	s.await(s.srv.disk, func() (func(), func()) {
		l, err := openLister(root, p, styleLong, 0, false, delay)
		if err != nil {
			return func() { s.reply(550, "Failed to list: "+errReply(err)) }, nil
		}
		var out []byte
		for {
			chunk, eof, err := l.next()
			out = append(out, chunk...)
			if eof || err != nil || len(out) > statLimit {
				break
			}
		}
		l.close()
		return func() {
			s.out = append(s.out, `213-Status of "`...)
			s.out = append(s.out, quote(p)...)
			s.out = append(s.out, "\":\r\n"...)
			s.out = append(s.out, out...)
			s.reply(213, "End of status.")
		}, nil
	})
}

// cmdMLST describes one file or folder over the control connection (RFC
// 3659 §7), with its full virtual path (TVFS).
func (s *session) cmdMLST(arg string) {
	if arg == "" {
		arg = s.cwd
	}
	p, ok := s.path(arg)
	if !ok {
		return
	}
	facts, write := s.facts, s.acct.write
	var line []byte
	s.fsCall(func(r *os.Root) error {
		fi, err := r.Stat(rel(p))
		if err != nil {
			return err
		}
		typ := "file"
		if fi.IsDir() {
			typ = "dir"
		}
		line = appendFacts([]byte{' '}, facts, fi, typ, write)
		line = append(line, safe(p)...)
		return nil
	}, func() {
		s.out = append(s.out, "250-Listing "...)
		s.out = append(s.out, safe(p)...)
		s.out = append(s.out, "\r\n"...)
		s.out = append(s.out, line...)
		s.out = append(s.out, "\r\n"...)
		s.reply(250, "End.")
	})
}
