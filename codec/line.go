package codec

import (
	"bytes"
	"fmt"
	"math"
)

// DefaultMaxLine is the maximum line length a Line with MaxLen zero
// accepts: 64 KiB, the inline-request limit of Redis (PROTO_INLINE_MAX_SIZE)
// and far above any FTP command.
const DefaultMaxLine = 64 * 1024

// Line frames text protocols whose messages end in LF (FTP, SMTP, Redis
// inline commands, the newline-framed CloudHash).
//
// By default a line ends at LF and one CR just before the LF is stripped,
// so both CR LF and bare LF terminate a line, as vsftpd and Redis's inline
// parser accept. With StrictCRLF a bare LF is an error.
//
// A Line is a plain value; its methods do not modify it and are safe for
// concurrent use as long as no one writes its fields.
type Line struct {
	// MaxLen is the longest line accepted, in bytes, not counting the
	// terminator. Zero or negative means DefaultMaxLine.
	MaxLen int
	// StrictCRLF makes Decode require CR LF; a bare LF is ErrMissingCR.
	StrictCRLF bool
}

func (l Line) maxLen() int {
	if l.MaxLen <= 0 {
		return DefaultMaxLine
	}
	// Leave room for the terminator in Decode's arithmetic.
	return min(l.MaxLen, math.MaxInt-2)
}

// Decode returns the first line of b without its terminator, as a slice of
// b (no copy), and n, the bytes the line and its terminator take. The slice
// is valid as long as b is.
//
// Errors: ErrNeedMore when b holds no complete line yet; ErrLineTooLong
// (wrapped) as soon as b holds more than MaxLen bytes that cannot end in a
// terminator, without waiting for the LF: Decode never looks past the first
// MaxLen+2 bytes; ErrMissingCR (wrapped) for a bare LF under StrictCRLF.
// n is 0 with any error.
func (l Line) Decode(b []byte) (line []byte, n int, err error) {
	maxLen := l.maxLen()
	scan := b
	// MaxLen content bytes, a CR, and the LF: nothing beyond can end a
	// line that is short enough.
	if len(scan) > maxLen+2 {
		scan = scan[:maxLen+2]
	}
	i := bytes.IndexByte(scan, '\n')
	if i < 0 {
		// A prefix of exactly MaxLen+1 bytes may still end in CR LF.
		if len(b) > maxLen+1 || (len(b) == maxLen+1 && b[maxLen] != '\r') {
			return nil, 0, fmt.Errorf("%w: no LF within %d bytes", ErrLineTooLong, maxLen)
		}
		return nil, 0, ErrNeedMore
	}
	end := i
	cr := end > 0 && b[end-1] == '\r'
	if cr {
		end--
	}
	// Length first: a prefix of this input without the LF was already too
	// long, and a split must not change the verdict.
	if end > maxLen {
		return nil, 0, fmt.Errorf("%w: %d bytes, limit %d", ErrLineTooLong, end, maxLen)
	}
	if !cr && l.StrictCRLF {
		return nil, 0, fmt.Errorf("%w: at byte %d", ErrMissingCR, i)
	}
	return b[:end:end], i + 1, nil
}

// Encode appends line and CR LF to dst and returns the extended slice. CR LF
// suits both modes: strict peers require it and lenient ones strip the CR.
//
// It returns dst unchanged with ErrNewline if line contains an LF, or with
// ErrLineTooLong (wrapped) if line is longer than MaxLen, so that what Encode
// writes always decodes back to line.
func (l Line) Encode(dst, line []byte) ([]byte, error) {
	if len(line) > l.maxLen() {
		return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrLineTooLong, len(line), l.maxLen())
	}
	if bytes.IndexByte(line, '\n') >= 0 {
		return dst, ErrNewline
	}
	dst = append(dst, line...)
	return append(dst, '\r', '\n'), nil
}
