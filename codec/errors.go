package codec

import "errors"

// Sentinel errors. The codecs often wrap them with detail, so match them
// with errors.Is; ErrNeedMore alone is never wrapped, since callers test for
// it after every frame.
var (
	// ErrNeedMore means the input holds only part of a frame: keep the
	// bytes and call the decoder again when more have arrived.
	ErrNeedMore = errors.New("codec: need more input")

	// ErrLineTooLong means a line, or a RESP header line, exceeds its
	// maximum length. Decoders report it as soon as more than the maximum
	// has been buffered without a terminator.
	ErrLineTooLong = errors.New("codec: line too long")

	// ErrMissingCR means a line ended in a bare LF where StrictCRLF
	// requires CR LF.
	ErrMissingCR = errors.New("codec: line ends in LF without CR")

	// ErrNewline means Line.Encode was given a line that holds an LF,
	// which would split it in two on the wire.
	ErrNewline = errors.New("codec: line contains LF")

	// ErrFrameTooLarge means a length header, bulk length or array count
	// exceeds the configured maximum, or a payload is too large for the
	// header that must carry it.
	ErrFrameTooLarge = errors.New("codec: frame too large")

	// ErrNegativeLength means a signed length header holds a negative
	// number, or one smaller than the header when the length includes it.
	ErrNegativeLength = errors.New("codec: negative length")

	// ErrBadConfig means a codec's configuration cannot work, for example
	// a LengthPrefixed header size other than 1, 2, 4 or 8.
	ErrBadConfig = errors.New("codec: bad configuration")

	// ErrProtocol matches every malformed RESP input: each ProtocolError
	// from DecodeRequest, and the errors DecodeReply returns for input
	// that is not RESP2.
	ErrProtocol = errors.New("codec: protocol error")

	// ErrNestingTooDeep means a RESP reply nests arrays deeper than
	// MaxReplyDepth.
	ErrNestingTooDeep = errors.New("codec: reply nested too deep")
)

// ProtocolErrorKind names one of the protocol errors Redis reports while
// parsing requests (src/networking.c, processInlineBuffer and
// processMultibulkBuffer).
type ProtocolErrorKind uint8

// The protocol errors of a RESP request, in the order Redis's parser can
// meet them.
const (
	// TooBigInlineRequest: an inline command line exceeds MaxInline
	// bytes without an LF.
	TooBigInlineRequest ProtocolErrorKind = iota + 1
	// UnbalancedQuotes: an inline command has an unterminated quote, or a
	// closing quote followed by something other than a space.
	UnbalancedQuotes
	// TooBigMbulkCountString: the "*<count>" line exceeds MaxInline bytes
	// without a CR.
	TooBigMbulkCountString
	// InvalidMultibulkLength: the count is not a number, or exceeds
	// MaxArgs.
	InvalidMultibulkLength
	// TooBigBulkCountString: a "$<len>" line exceeds MaxInline bytes
	// without a CR.
	TooBigBulkCountString
	// ExpectedDollar: an element of a multibulk request does not start
	// with '$'; ProtocolError.Got holds the byte found instead.
	ExpectedDollar
	// InvalidBulkLength: a bulk length is not a number, is negative, or
	// exceeds MaxBulk.
	InvalidBulkLength
)

// ProtocolError is a malformed RESP request. Its Error text is exactly the
// message Redis replies with (after "-ERR "), so a server can send it on and
// clients see what they expect; Redis closes the connection after sending
// it, and so should a server built on this package. errors.Is matches it
// with ErrProtocol, and, being comparable, with a ProtocolError of the same
// Kind and Got.
type ProtocolError struct {
	// Kind says which check failed.
	Kind ProtocolErrorKind
	// Got is the byte found where '$' was expected (Kind ExpectedDollar
	// only; zero otherwise).
	Got byte
}

// Error returns Redis's message for the error, for example
// "Protocol error: invalid multibulk length".
func (e ProtocolError) Error() string {
	switch e.Kind {
	case TooBigInlineRequest:
		return "Protocol error: too big inline request"
	case UnbalancedQuotes:
		return "Protocol error: unbalanced quotes in request"
	case TooBigMbulkCountString:
		return "Protocol error: too big mbulk count string"
	case InvalidMultibulkLength:
		return "Protocol error: invalid multibulk length"
	case TooBigBulkCountString:
		return "Protocol error: too big bulk count string"
	case ExpectedDollar:
		// Redis formats the raw byte with %c; so does string([]byte{b}),
		// where %c would UTF-8-encode bytes above 0x7f.
		return "Protocol error: expected '$', got '" + string([]byte{e.Got}) + "'"
	case InvalidBulkLength:
		return "Protocol error: invalid bulk length"
	}
	return "Protocol error: unknown error"
}

// Unwrap returns ErrProtocol, so that errors.Is(err, ErrProtocol) holds for
// every ProtocolError.
func (e ProtocolError) Unwrap() error { return ErrProtocol }
