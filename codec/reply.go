package codec

import (
	"bytes"
	"fmt"
	"slices"
)

// ReplyType is the kind of a RESP2 value, named by its first byte on the
// wire.
type ReplyType byte

// The five RESP2 types.
const (
	SimpleString ReplyType = '+'
	ErrorReply   ReplyType = '-'
	Integer      ReplyType = ':'
	BulkString   ReplyType = '$'
	Array        ReplyType = '*'
)

// Reply is one decoded RESP2 value.
type Reply struct {
	// Type says which fields are set.
	Type ReplyType
	// Null marks the null bulk string ("$-1") and the null array ("*-1").
	Null bool
	// Str holds the text of a SimpleString or ErrorReply and the bytes of
	// a BulkString, as a slice of the decoded input.
	Str []byte
	// Int holds the value of an Integer.
	Int int64
	// Elems holds the elements of an Array (empty for "*0", nil for a
	// null array).
	Elems []Reply
}

// DecodeReply decodes the first RESP2 value in b, as a server sends it, and
// returns n, the bytes it took. It appends the value to vals and returns the
// extended slice: the decoded value is out[len(vals)], and the elements of
// its arrays live in out after it. Pass the same slice back (as out[:0]) to
// reuse its storage; decoding then allocates nothing once it has grown to
// the largest reply seen. Strings point into b and are valid as long as b
// is.
//
// Lines must end in CR LF, and a bulk string must be followed by CR LF.
// Limits: lines up to MaxInline bytes (else ErrLineTooLong), bulk strings up
// to MaxBulk bytes and arrays up to MaxArgs elements (else
// ErrFrameTooLarge), arrays nested at most MaxReplyDepth deep (else
// ErrNestingTooDeep). Input that is not RESP2 matches ErrProtocol.
// ErrNeedMore means b holds part of a value; nothing is appended then, and
// an incomplete value is only scanned, never stored.
func (r RESP) DecodeReply(b []byte, vals []Reply) (out []Reply, n int, err error) {
	n, nodes, _, err := r.reply(b, 1, nil, nil)
	if err != nil {
		return vals, 0, err
	}
	base := len(vals)
	out = slices.Grow(vals, nodes)[:base+nodes]
	clear(out[base:])
	r.reply(b, 1, &out[base], out[base+1:])
	return out, n, nil
}

// reply parses the value at the start of b, nested depth arrays deep. With
// v nil it only checks the value and counts it and its elements in nodes;
// otherwise it stores the value in v and the elements of its arrays in
// store, which must have room for them, and returns what is left of store.
func (r RESP) reply(b []byte, depth int, v *Reply, store []Reply) (n, nodes int, rest []Reply, err error) {
	if len(b) == 0 {
		return 0, 0, store, ErrNeedMore
	}
	typ := ReplyType(b[0])
	switch typ {
	case SimpleString, ErrorReply, Integer, BulkString, Array:
	default:
		return 0, 0, store, fmt.Errorf("%w: unknown reply type %q", ErrProtocol, b[0])
	}
	line, n, err := r.replyLine(b)
	if err != nil {
		return 0, 0, store, err
	}
	if v != nil {
		v.Type = typ
	}
	nodes = 1
	switch typ {
	case SimpleString, ErrorReply:
		if v != nil {
			v.Str = line
		}
		return n, nodes, store, nil
	}
	num, ok := ParseInt(line)
	if !ok || (typ != Integer && num < -1) {
		return 0, 0, store, fmt.Errorf("%w: bad number %q after %q", ErrProtocol, line, b[0])
	}
	switch {
	case typ == Integer:
		if v != nil {
			v.Int = num
		}
	case num == -1:
		if v != nil {
			v.Null = true
		}
	case typ == BulkString:
		if num > r.maxBulk() {
			return 0, 0, store, fmt.Errorf("%w: bulk of %d bytes, limit %d", ErrFrameTooLarge, num, r.maxBulk())
		}
		if int64(len(b)-n)-2 < num { // not num+2: MaxBulk may be MaxInt64
			return 0, 0, store, ErrNeedMore
		}
		end := n + int(num)
		if b[end] != '\r' || b[end+1] != '\n' {
			return 0, 0, store, fmt.Errorf("%w: bulk of %d bytes not followed by CR LF", ErrProtocol, num)
		}
		if v != nil {
			v.Str = b[n:end:end]
		}
		n = end + 2
	default: // Array
		if num > int64(r.maxArgs()) {
			return 0, 0, store, fmt.Errorf("%w: array of %d elements, limit %d", ErrFrameTooLarge, num, r.maxArgs())
		}
		if depth > MaxReplyDepth {
			return 0, 0, store, fmt.Errorf("%w: more than %d arrays", ErrNestingTooDeep, MaxReplyDepth)
		}
		var elems []Reply
		if v != nil {
			elems, store = store[:num:num], store[num:]
			v.Elems = elems
		}
		for i := range int(num) {
			var elem *Reply
			if v != nil {
				elem = &elems[i]
			}
			m, k, left, err := r.reply(b[n:], depth+1, elem, store)
			if err != nil {
				return 0, 0, left, err
			}
			n += m
			nodes += k
			store = left
		}
	}
	return n, nodes, store, nil
}

// replyLine returns the text between b's type byte and the first CR LF, and
// the index after the LF.
func (r RESP) replyLine(b []byte) (line []byte, n int, err error) {
	maxInline := r.maxInline()
	scan := b
	// The type byte, up to MaxInline bytes of text, and the CR.
	if len(scan) > maxInline+2 {
		scan = scan[:maxInline+2]
	}
	cr := bytes.IndexByte(scan[1:], '\r') + 1
	if cr == 0 {
		if len(b) > maxInline+1 {
			return nil, 0, fmt.Errorf("%w: reply line over %d bytes", ErrLineTooLong, maxInline)
		}
		return nil, 0, ErrNeedMore
	}
	if cr+1 == len(b) {
		return nil, 0, ErrNeedMore
	}
	if b[cr+1] != '\n' {
		return nil, 0, fmt.Errorf("%w: CR without LF in reply line", ErrProtocol)
	}
	return b[1:cr:cr], cr + 2, nil
}
