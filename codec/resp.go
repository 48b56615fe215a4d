package codec

import (
	"bytes"
	"math"
)

// Redis's default limits, which a RESP with zero fields enforces.
const (
	// DefaultMaxInline is the longest inline command, and the longest
	// "*<count>" or "$<len>" line, in bytes: Redis's PROTO_INLINE_MAX_SIZE.
	DefaultMaxInline = 64 * 1024
	// DefaultMaxBulk is the longest bulk string, in bytes: the default of
	// Redis's proto-max-bulk-len.
	DefaultMaxBulk = 512 * 1024 * 1024
	// DefaultMaxArgs is the most elements a request or reply array may
	// have: the limit of older Redis. Current Redis takes up to INT_MAX
	// elements from an authenticated client; set MaxArgs to match it.
	DefaultMaxArgs = 1024 * 1024
	// MaxReplyDepth is how deeply DecodeReply lets arrays nest.
	MaxReplyDepth = 64
)

// RESP decodes and checks RESP2, the Redis serialization protocol: requests
// as Redis's server parses them, and replies as a client reads them. The
// Append functions encode.
//
// The zero value enforces Redis's default limits. A RESP is a plain value;
// its methods do not modify it and are safe for concurrent use as long as no
// one writes its fields (each caller brings its own Request or []Reply).
type RESP struct {
	// MaxInline limits inline commands and the count and length lines of
	// multibulk requests, in bytes. Zero or negative means
	// DefaultMaxInline.
	MaxInline int
	// MaxBulk limits each bulk string, in bytes (Redis's
	// proto-max-bulk-len). Zero or negative means DefaultMaxBulk.
	MaxBulk int64
	// MaxArgs limits the elements of a request or reply array. Zero or
	// negative means DefaultMaxArgs.
	MaxArgs int
}

func (r RESP) maxInline() int {
	if r.MaxInline <= 0 {
		return DefaultMaxInline
	}
	// Leave room for the type byte and terminator in the arithmetic.
	return min(r.MaxInline, math.MaxInt-2)
}

func (r RESP) maxBulk() int64 {
	if r.MaxBulk <= 0 {
		return DefaultMaxBulk
	}
	return r.MaxBulk
}

func (r RESP) maxArgs() int {
	if r.MaxArgs <= 0 {
		return DefaultMaxArgs
	}
	return r.MaxArgs
}

// Request holds the arguments of one decoded command. Keep one per
// connection, or per event loop since callbacks do not overlap, and pass it
// to every DecodeRequest call: its storage is reused, so decoding allocates
// nothing once it has grown to the largest command seen.
//
// A Request is not safe for concurrent use.
type Request struct {
	// Args holds the command name and its arguments, never empty after a
	// successful decode. Each argument points into the decoded input or,
	// for an inline argument that was quoted, into the Request's own
	// storage; either way it is valid until the input is reused or the
	// next DecodeRequest call with this Request, whichever comes first.
	Args [][]byte

	// unquoted holds the inline arguments that quoting or escapes kept
	// from being slices of the input.
	unquoted []byte
}

// DecodeRequest decodes the first command in b into req, and returns n, the
// bytes it took. It reads both forms Redis's server reads: a multibulk array
// of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), when b starts with
// '*', and otherwise an inline command ("GET k\r\n"), split into arguments
// as Redis splits them (sdssplitargs: spaces separate; "..." takes escapes
// \n \r \t \b \a \xHH and \ before any other byte; '...' takes \'). As in
// Redis, an inline line ends at LF with one CR before it stripped, a quoted
// empty argument ("") is kept (Redis 6.0 dropped it), and empty
// requests (a blank line, "*0\r\n", "*-1\r\n") are skipped, so a
// successful decode always has at least one argument.
//
// Errors: ErrNeedMore when b holds no complete command yet; n may still be
// positive then, counting empty requests that were skipped and that the
// caller may discard. Malformed or over-limit input is a ProtocolError whose
// text is Redis's reply; Redis then closes the connection. n counts the
// bytes before the bad command.
//
// Two Redis quirks are kept on purpose: the byte after each CR of a
// multibulk header and the two bytes after each bulk string are skipped
// without being checked, and a NUL byte hides any line terminator after it
// (Redis looks for terminators with strchr), so such a line stays incomplete
// until it exceeds MaxInline. Bulk strings may hold any bytes.
//
// The whole command is parsed again on each call until it is complete: a
// stateless decoder's cost for a command that arrives in k pieces is k
// times its header parsing (bulk contents are not scanned).
func (r RESP) DecodeRequest(b []byte, req *Request) (n int, err error) {
	req.Args = req.Args[:0]
	req.unquoted = req.unquoted[:0]
	for n < len(b) {
		var m int
		if b[n] == '*' {
			m, err = r.multibulk(b[n:], req)
		} else {
			m, err = r.inline(b[n:], req)
		}
		if err != nil {
			req.Args = req.Args[:0]
			return n, err
		}
		n += m
		if len(req.Args) > 0 {
			return n, nil
		}
	}
	return n, ErrNeedMore
}

// findTerm returns the index of the first c in b as Redis's strchr finds it:
// within the first max+1 bytes and before any NUL; -1 if there is none.
func findTerm(b []byte, c byte, max int) int {
	if len(b) > max+1 {
		b = b[:max+1]
	}
	i := bytes.IndexByte(b, c)
	if i < 0 || bytes.IndexByte(b[:i], 0) >= 0 {
		return -1
	}
	return i
}

// multibulk decodes one "*<count>\r\n" request, b[0] being '*'. Its checks
// and their order follow processMultibulkBuffer in Redis's networking.c.
func (r RESP) multibulk(b []byte, req *Request) (int, error) {
	maxInline := r.maxInline()
	cr := findTerm(b, '\r', maxInline)
	if cr < 0 {
		if len(b) > maxInline {
			return 0, ProtocolError{Kind: TooBigMbulkCountString}
		}
		return 0, ErrNeedMore
	}
	if cr+2 > len(b) {
		return 0, ErrNeedMore
	}
	count, ok := ParseInt(b[1:cr])
	if !ok || count > int64(r.maxArgs()) {
		return 0, ProtocolError{Kind: InvalidMultibulkLength}
	}
	pos := cr + 2
	maxBulk := r.maxBulk()
	for ; count > 0; count-- {
		rest := b[pos:]
		cr = findTerm(rest, '\r', maxInline)
		if cr < 0 {
			if len(rest) > maxInline {
				return 0, ProtocolError{Kind: TooBigBulkCountString}
			}
			return 0, ErrNeedMore
		}
		if cr+2 > len(rest) {
			return 0, ErrNeedMore
		}
		if rest[0] != '$' {
			return 0, ProtocolError{Kind: ExpectedDollar, Got: rest[0]}
		}
		size, ok := ParseInt(rest[1:cr])
		if !ok || size < 0 || size > maxBulk {
			return 0, ProtocolError{Kind: InvalidBulkLength}
		}
		pos += cr + 2
		if int64(len(b)-pos)-2 < size { // not size+2: MaxBulk may be MaxInt64
			return 0, ErrNeedMore
		}
		end := pos + int(size)
		req.Args = append(req.Args, b[pos:end:end])
		pos = end + 2
	}
	return pos, nil
}

// inline decodes one inline command line, following processInlineBuffer in
// Redis's networking.c.
func (r RESP) inline(b []byte, req *Request) (int, error) {
	maxInline := r.maxInline()
	lf := findTerm(b, '\n', maxInline)
	if lf < 0 {
		if len(b) > maxInline {
			return 0, ProtocolError{Kind: TooBigInlineRequest}
		}
		return 0, ErrNeedMore
	}
	line := b[:lf]
	if lf > 0 && line[lf-1] == '\r' {
		line = line[:lf-1]
	}
	if !req.splitArgs(line) {
		return 0, ProtocolError{Kind: UnbalancedQuotes}
	}
	return lf + 1, nil
}

// isSpace reports whether C's isspace holds for c in the C locale.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// endsToken reports whether c ends an unquoted inline argument; note that
// \v and \f do not, although isSpace skips them between arguments.
func endsToken(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// splitArgs appends the arguments of an inline line (which holds no NUL) to
// req.Args, with the rules of sdssplitargs in Redis's sds.c. An argument
// without quotes is a slice of line; one with quotes is unquoted into
// req.unquoted. It reports false for unbalanced quotes.
func (req *Request) splitArgs(line []byte) bool {
	p := 0
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p == len(line) {
			return true
		}
		start := p
		for p < len(line) && !endsToken(line[p]) && line[p] != '"' && line[p] != '\'' {
			p++
		}
		if p == len(line) || endsToken(line[p]) {
			// line[start] is no space, so the argument is not empty.
			req.Args = append(req.Args, line[start:p:p])
			continue
		}
		// An opening quote: the argument is what came before it plus the
		// quoted part, which must close and be followed by a space or the
		// end of the line.
		from := len(req.unquoted)
		req.unquoted = append(req.unquoted, line[start:p]...)
		var ok bool
		if line[p] == '"' {
			p, ok = req.doubleQuoted(line, p+1)
		} else {
			p, ok = req.singleQuoted(line, p+1)
		}
		if !ok {
			return false
		}
		if p < len(line) && !isSpace(line[p]) {
			return false
		}
		to := len(req.unquoted)
		req.Args = append(req.Args, req.unquoted[from:to:to])
	}
}

// doubleQuoted unquotes line[p:] up to the closing '"', appending to
// req.unquoted, and returns the index after the quote; false if none.
func (req *Request) doubleQuoted(line []byte, p int) (int, bool) {
	for p < len(line) {
		c := line[p]
		switch {
		case c == '\\' && p+3 < len(line) && line[p+1] == 'x' && isHex(line[p+2]) && isHex(line[p+3]):
			req.unquoted = append(req.unquoted, unhex(line[p+2])<<4|unhex(line[p+3]))
			p += 4
		case c == '\\' && p+1 < len(line):
			switch e := line[p+1]; e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'a':
				c = '\a'
			default:
				c = e
			}
			req.unquoted = append(req.unquoted, c)
			p += 2
		case c == '"':
			return p + 1, true
		default:
			req.unquoted = append(req.unquoted, c)
			p++
		}
	}
	return p, false
}

// singleQuoted unquotes line[p:] up to the closing single quote, where only \' is an
// escape, and returns the index after the quote; false if none.
func (req *Request) singleQuoted(line []byte, p int) (int, bool) {
	for p < len(line) {
		c := line[p]
		switch {
		case c == '\\' && p+1 < len(line) && line[p+1] == '\'':
			req.unquoted = append(req.unquoted, '\'')
			p += 2
		case c == '\'':
			return p + 1, true
		default:
			req.unquoted = append(req.unquoted, c)
			p++
		}
	}
	return p, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// ParseInt parses b as a decimal int64 as strictly as Redis's string2ll:
// an optional '-', then "0" alone or a digit 1-9 and more digits; no '+',
// no spaces, no leading zeros, no "-0", no overflow. It reports false when
// b is not such a number. It does not allocate, and as a pure function it
// is safe to call from any number of goroutines.
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '1' || b[0] > '9' || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	// Nineteen digits cannot overflow a uint64; the sign decides the rest.
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}
