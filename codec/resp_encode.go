package codec

import "strconv"

// The Append functions encode RESP2 values for a client (AppendArrayHeader
// and AppendBulk make a request) or a server. Each appends to dst and returns
// the extended slice, as the append built-in does, and is safe for
// concurrent use.

// AppendSimpleString appends s as a simple string ("+OK\r\n"). A simple
// string cannot hold CR or LF, so each is written as a space, as Redis does
// for error replies.
func AppendSimpleString(dst []byte, s string) []byte {
	return appendLine(append(dst, '+'), s)
}

// AppendError appends msg as an error reply ("-ERR unknown command\r\n").
// msg should begin with an error code such as ERR or WRONGTYPE; to pass on
// a ProtocolError as Redis does, send "ERR " + err.Error(). CR and LF in msg
// are written as spaces.
func AppendError(dst []byte, msg string) []byte {
	return appendLine(append(dst, '-'), msg)
}

func appendLine(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return append(dst, '\r', '\n')
}

// AppendInt appends n as an integer reply (":42\r\n").
func AppendInt(dst []byte, n int64) []byte {
	dst = strconv.AppendInt(append(dst, ':'), n, 10)
	return append(dst, '\r', '\n')
}

// AppendBulk appends b as a bulk string ("$3\r\nfoo\r\n"); b may hold any
// bytes. A nil b is an empty bulk string, not a null one: see
// AppendNullBulk.
func AppendBulk(dst, b []byte) []byte {
	dst = strconv.AppendInt(append(dst, '$'), int64(len(b)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendBulkString is AppendBulk for a string.
func AppendBulkString(dst []byte, s string) []byte {
	dst = strconv.AppendInt(append(dst, '$'), int64(len(s)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendNullBulk appends the null bulk string ("$-1\r\n"), Redis's reply
// for a missing key.
func AppendNullBulk(dst []byte) []byte {
	return append(dst, "$-1\r\n"...)
}

// AppendArrayHeader appends the header of an array of n elements
// ("*2\r\n"); the caller then appends the n elements. n should not be
// negative: AppendNullArray writes the null array.
func AppendArrayHeader(dst []byte, n int) []byte {
	dst = strconv.AppendInt(append(dst, '*'), int64(n), 10)
	return append(dst, '\r', '\n')
}

// AppendNullArray appends the null array ("*-1\r\n").
func AppendNullArray(dst []byte) []byte {
	return append(dst, "*-1\r\n"...)
}
