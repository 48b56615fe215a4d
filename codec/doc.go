// Package codec frames the byte streams of network protocols: lines,
// length-prefixed binary messages, and RESP2, the Redis protocol.
//
// Codecs are pure: no I/O, no goroutines, nothing shared. They decode
// straight out of a connection's inbound bytes, such as those Peek returns,
// and every decoder has the same shape:
//
//	frame, n, err := codec.Line{}.Decode(b)
//
// frame is a slice of b itself (no copy), n is how many bytes of b the frame
// took (the caller discards them), and err is ErrNeedMore when b holds only
// part of a frame: keep the bytes and call again when more arrive. A frame
// is valid as long as b is, so a protocol handles it before it returns from
// its callback, or copies it. Input split at any byte decodes to the same
// frames as whole input, and decoding allocates nothing per frame.
//
// Limits are checked as soon as the bytes that break them are buffered: an
// over-long line is an error before its LF arrives, an oversized length
// header before its payload does. Errors match the sentinels in errors.go
// with errors.Is; RESP request errors are ProtocolError values whose text is
// Redis's own.
//
// Encoders append to a caller's slice and return it, like the append
// built-in, so one output buffer serves many frames.
//
// The codec types (Line, LengthPrefixed, RESP) are small configuration
// values; their methods never modify them, so a value is safe for concurrent
// use as long as no one writes its fields. The zero value of each is ready
// to use with documented defaults.
package codec
