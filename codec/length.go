package codec

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DefaultMaxFrame is the largest payload a LengthPrefixed with MaxFrame zero
// accepts: 1 MiB.
const DefaultMaxFrame = 1 << 20

// LengthPrefixed frames binary messages as a fixed-width length header
// followed by that many payload bytes.
//
// The zero value is a 4-byte big-endian unsigned length counting the payload
// only, with payloads up to DefaultMaxFrame. CloudHash returns the
// configuration of the seed's CloudHash protocol.
//
// A LengthPrefixed is a plain value; its methods do not modify it and are
// safe for concurrent use as long as no one writes its fields.
type LengthPrefixed struct {
	// HeaderSize is the width of the length header in bytes: 1, 2, 4 or
	// 8. Zero means 4; any other value makes Decode and Encode return
	// ErrBadConfig.
	HeaderSize int
	// LittleEndian selects little-endian headers; the default is
	// big-endian (network byte order).
	LittleEndian bool
	// Signed reads the header as a two's-complement signed integer: a
	// negative length is ErrNegativeLength, and Encode's limit is the
	// largest positive value of that width.
	Signed bool
	// IncludesHeader means the length counts the header as well as the
	// payload.
	IncludesHeader bool
	// MaxFrame is the largest payload accepted, in bytes, whatever
	// IncludesHeader says. Zero or negative means DefaultMaxFrame. The
	// header width may limit payloads further (255 bytes for an unsigned
	// 1-byte header).
	MaxFrame int
}

// CloudHash returns the framing of the seed's CloudHash protocol: Ruby's
// [len].pack('i'), a 4-byte signed integer in the host's order (little-endian
// on every mainstream CPU), then len payload bytes.
func CloudHash() LengthPrefixed {
	return LengthPrefixed{HeaderSize: 4, LittleEndian: true, Signed: true}
}

func (p LengthPrefixed) headerSize() (int, error) {
	switch p.HeaderSize {
	case 0:
		return 4, nil
	case 1, 2, 4, 8:
		return p.HeaderSize, nil
	}
	return 0, fmt.Errorf("%w: header size %d, want 1, 2, 4 or 8", ErrBadConfig, p.HeaderSize)
}

// maxPayload is the largest payload both MaxFrame and the header admit.
func (p LengthPrefixed) maxPayload(hs int) uint64 {
	limit := uint64(DefaultMaxFrame)
	if p.MaxFrame > 0 {
		limit = uint64(p.MaxFrame)
	}
	bits := 8 * hs
	if p.Signed {
		bits--
	}
	field := uint64(math.MaxUint64) >> (64 - bits)
	if p.IncludesHeader {
		field -= uint64(hs)
	}
	// Keep header plus payload within an int, however large MaxFrame is.
	return min(limit, field, uint64(math.MaxInt-8))
}

// header reads the hs-byte length header at the start of b. The concrete
// byte orders, unlike the binary.ByteOrder interface, inline.
func (p LengthPrefixed) header(b []byte, hs int) uint64 {
	switch {
	case hs == 1:
		return uint64(b[0])
	case hs == 2 && p.LittleEndian:
		return uint64(binary.LittleEndian.Uint16(b))
	case hs == 2:
		return uint64(binary.BigEndian.Uint16(b))
	case hs == 4 && p.LittleEndian:
		return uint64(binary.LittleEndian.Uint32(b))
	case hs == 4:
		return uint64(binary.BigEndian.Uint32(b))
	case p.LittleEndian:
		return binary.LittleEndian.Uint64(b)
	}
	return binary.BigEndian.Uint64(b)
}

// appendHeader appends u as an hs-byte length header.
func (p LengthPrefixed) appendHeader(dst []byte, u uint64, hs int) []byte {
	switch {
	case hs == 1:
		return append(dst, byte(u))
	case hs == 2 && p.LittleEndian:
		return binary.LittleEndian.AppendUint16(dst, uint16(u))
	case hs == 2:
		return binary.BigEndian.AppendUint16(dst, uint16(u))
	case hs == 4 && p.LittleEndian:
		return binary.LittleEndian.AppendUint32(dst, uint32(u))
	case hs == 4:
		return binary.BigEndian.AppendUint32(dst, uint32(u))
	case p.LittleEndian:
		return binary.LittleEndian.AppendUint64(dst, u)
	}
	return binary.BigEndian.AppendUint64(dst, u)
}

// Decode returns the payload of the first frame in b, as a slice of b (no
// copy), and n, the bytes header and payload take. The slice is valid as
// long as b is.
//
// The length is checked as soon as the header is in, before any payload is
// awaited: a negative one is ErrNegativeLength, one above MaxFrame is
// ErrFrameTooLarge (both wrapped). ErrNeedMore means b holds only part of a
// frame whose header, if present, was valid. n is 0 with any error.
func (p LengthPrefixed) Decode(b []byte) (payload []byte, n int, err error) {
	hs, err := p.headerSize()
	if err != nil {
		return nil, 0, err
	}
	if len(b) < hs {
		return nil, 0, ErrNeedMore
	}
	u := p.header(b, hs)
	if p.Signed && u>>(8*hs-1) != 0 {
		// The sign bit is set: the length is negative.
		return nil, 0, fmt.Errorf("%w: header %#x", ErrNegativeLength, u)
	}
	if p.IncludesHeader {
		if u < uint64(hs) {
			return nil, 0, fmt.Errorf("%w: length %d includes a %d-byte header", ErrNegativeLength, u, hs)
		}
		u -= uint64(hs)
	}
	if limit := p.maxPayload(hs); u > limit {
		return nil, 0, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrFrameTooLarge, u, limit)
	}
	// u fits in an int now, with room for the header: see maxPayload.
	n = hs + int(u)
	if len(b) < n {
		return nil, 0, ErrNeedMore
	}
	return b[hs:n:n], n, nil
}

// Encode appends the header for payload and payload itself to dst and
// returns the extended slice. A payload longer than MaxFrame or than the
// header can describe is ErrFrameTooLarge (wrapped), and dst comes back
// unchanged.
func (p LengthPrefixed) Encode(dst, payload []byte) ([]byte, error) {
	hs, err := p.headerSize()
	if err != nil {
		return dst, err
	}
	u := uint64(len(payload))
	if limit := p.maxPayload(hs); u > limit {
		return dst, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrFrameTooLarge, u, limit)
	}
	if p.IncludesHeader {
		u += uint64(hs)
	}
	dst = p.appendHeader(dst, u, hs)
	return append(dst, payload...), nil
}
