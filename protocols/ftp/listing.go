package ftp

import (
	"io/fs"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sixMonths is where LIST switches from "Mon DD HH:MM" to "Mon DD  YYYY",
// as vsftpd does (ls.c, vsf_sysutil_statbuf_get_date: 182 days); files
// dated in the future show the year too.
const sixMonths = 182 * 24 * time.Hour

// appendLsLine appends one LIST line in the `ls -l` form vsftpd sends
// (ls.c build_dir_line): mode, link count, numeric owner and group, size,
// date in UTC, name, and " -> target" for a symlink.
//
//	-rw-r--r--    1 1000     1000         1234 Mar 04 12:30 notes.txt
//	drwxr-xr-x    2 0        0            4096 Jan 01  2023 old
func appendLsLine(b []byte, name string, fi fs.FileInfo, target string, now time.Time) []byte {
	nlink, uid, gid := uint64(1), uint64(0), uint64(0)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		nlink, uid, gid = uint64(st.Nlink), uint64(st.Uid), uint64(st.Gid)
	}
	b = appendMode(b, fi.Mode())
	b = append(b, ' ')
	b = padLeft(b, strconv.AppendUint(nil, nlink, 10), 4)
	b = append(b, ' ')
	b = padRight(b, strconv.AppendUint(nil, uid, 10), 8)
	b = append(b, ' ')
	b = padRight(b, strconv.AppendUint(nil, gid, 10), 8)
	b = append(b, ' ')
	b = padLeft(b, strconv.AppendInt(nil, fi.Size(), 10), 8)
	b = append(b, ' ')
	mt := fi.ModTime().UTC()
	if mt.After(now) || now.Sub(mt) > sixMonths {
		b = mt.AppendFormat(b, "Jan 02  2006")
	} else {
		b = mt.AppendFormat(b, "Jan 02 15:04")
	}
	b = append(b, ' ')
	b = append(b, safe(name)...)
	if target != "" {
		b = append(b, " -> "...)
		b = append(b, safe(target)...)
	}
	return append(b, '\r', '\n')
}

// appendMode appends the ten-character mode column of ls -l.
func appendMode(b []byte, m fs.FileMode) []byte {
	t := byte('-')
	switch {
	case m&fs.ModeDir != 0:
		t = 'd'
	case m&fs.ModeSymlink != 0:
		t = 'l'
	case m&fs.ModeNamedPipe != 0:
		t = 'p'
	case m&fs.ModeSocket != 0:
		t = 's'
	case m&fs.ModeCharDevice != 0:
		t = 'c'
	case m&fs.ModeDevice != 0:
		t = 'b'
	}
	b = append(b, t)
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		c := byte('-')
		if m&(1<<uint(8-i)) != 0 {
			c = rwx[i]
		}
		b = append(b, c)
	}
	// setuid, setgid and sticky replace the execute letters.
	special := func(pos int, on bool, set, unset byte) {
		if on {
			if b[len(b)-10+pos] == 'x' || b[len(b)-10+pos] == set {
				b[len(b)-10+pos] = set
			} else {
				b[len(b)-10+pos] = unset
			}
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's', 'S')
	special(6, m&fs.ModeSetgid != 0, 's', 'S')
	special(9, m&fs.ModeSticky != 0, 't', 'T')
	return b
}

func padLeft(b, s []byte, w int) []byte {
	for i := len(s); i < w; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

func padRight(b, s []byte, w int) []byte {
	b = append(b, s...)
	for i := len(s); i < w; i++ {
		b = append(b, ' ')
	}
	return b
}

// factSet is a set of MLST facts (RFC 3659 §7.5), one bit each.
type factSet uint16

// The facts served, in the order FEAT lists them.
const (
	factType factSet = 1 << iota
	factPerm
	factSize
	factModify
	factUnique
	factUnixMode
	factUnixUID
	factUnixGID
	factCount = iota
)

// factNames must match the order of the fact constants.
var factNames = [factCount]string{"type", "perm", "size", "modify", "unique", "unix.mode", "unix.uid", "unix.gid"}

// defaultFacts are the facts shown until OPTS MLST chooses others.
const defaultFacts = factType | factPerm | factSize | factModify | factUnique

// parseFacts reads the fact list of OPTS MLST ("type;size;"), ignoring facts
// it does not serve, as RFC 3659 §7.9 asks.
func parseFacts(list string) factSet {
	var fs factSet
	for _, f := range strings.Split(list, ";") {
		for i, n := range factNames {
			if strings.EqualFold(f, n) {
				fs |= 1 << uint(i)
			}
		}
	}
	return fs
}

// String lists the facts as OPTS MLST echoes them: "type;size;".
func (set factSet) String() string {
	var b strings.Builder
	for i, n := range factNames {
		if set&(1<<uint(i)) != 0 {
			b.WriteString(n)
			b.WriteByte(';')
		}
	}
	return b.String()
}

// feat lists every fact for FEAT, the enabled ones starred:
// "type*;perm*;size*;modify*;unique*;unix.mode;…".
func (set factSet) feat() string {
	var b strings.Builder
	for i, n := range factNames {
		b.WriteString(n)
		if set&(1<<uint(i)) != 0 {
			b.WriteByte('*')
		}
		b.WriteByte(';')
	}
	return b.String()
}

// appendFacts appends the facts of one MLSD/MLST entry, each "name=value;",
// then a space: "type=file;perm=r;size=12;modify=20240102030405;unique=…; ".
// typ is "file", "dir", "cdir" or "pdir"; write says whether the user may
// change it.
func appendFacts(b []byte, set factSet, fi fs.FileInfo, typ string, write bool) []byte {
	var st *syscall.Stat_t
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		st = s
	}
	if set&factType != 0 {
		b = append(b, "type="...)
		b = append(b, typ...)
		b = append(b, ';')
	}
	if set&factPerm != 0 {
		b = append(b, "perm="...)
		switch {
		case fi.IsDir() && write:
			b = append(b, "cdeflmp"...)
		case fi.IsDir():
			b = append(b, "el"...)
		case write:
			b = append(b, "adfrw"...)
		default:
			b = append(b, 'r')
		}
		b = append(b, ';')
	}
	if set&factSize != 0 {
		b = append(b, "size="...)
		b = strconv.AppendInt(b, fi.Size(), 10)
		b = append(b, ';')
	}
	if set&factModify != 0 {
		b = append(b, "modify="...)
		b = fi.ModTime().UTC().AppendFormat(b, "20060102150405")
		b = append(b, ';')
	}
	if set&factUnique != 0 && st != nil {
		b = append(b, "unique="...)
		b = strconv.AppendUint(b, uint64(st.Dev), 16)
		b = append(b, 'g')
		b = strconv.AppendUint(b, uint64(st.Ino), 16)
		b = append(b, ';')
	}
	if set&factUnixMode != 0 {
		b = append(b, "unix.mode=0"...)
		b = strconv.AppendUint(b, uint64(fi.Mode().Perm()), 8)
		b = append(b, ';')
	}
	if set&factUnixUID != 0 && st != nil {
		b = append(b, "unix.uid="...)
		b = strconv.AppendUint(b, uint64(st.Uid), 10)
		b = append(b, ';')
	}
	if set&factUnixGID != 0 && st != nil {
		b = append(b, "unix.gid="...)
		b = strconv.AppendUint(b, uint64(st.Gid), 10)
		b = append(b, ';')
	}
	return append(b, ' ')
}
