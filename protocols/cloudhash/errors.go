package cloudhash

import (
	"errors"
	"os"
)

// Sentinel errors of package cloudhash; match them with errors.Is.
var (
	// ErrCorruptSnapshot means a snapshot file is truncated, damaged or not
	// a CloudHash snapshot; the server refuses to start from it.
	ErrCorruptSnapshot = errors.New("cloudhash: corrupt snapshot")

	// ErrClientClosed is returned by calls on a Client after Close.
	ErrClientClosed = errors.New("cloudhash: client closed")

	// ErrConnLost is returned for requests in flight when the client's
	// connection closes before their answers arrive.
	ErrConnLost = errors.New("cloudhash: connection lost")

	// ErrTimeout is returned by a Client call whose answer did not arrive
	// within the client's timeout. It also matches os.ErrDeadlineExceeded.
	ErrTimeout error = timeoutError{}

	// ErrInvalidArgument is returned by a Client call whose key or value
	// cannot be sent in the client's framing (a key with whitespace, a
	// value with a newline on the line protocol).
	ErrInvalidArgument = errors.New("cloudhash: invalid argument")

	// ErrSaveInProgress is returned by Server.Save while another save runs.
	ErrSaveInProgress = errors.New("cloudhash: a save is already in progress")

	// ErrNoDataFile is returned by Server.Save when the server has no data
	// file.
	ErrNoDataFile = errors.New("cloudhash: no data file configured")

	// errNotInteger and errOverflow are Store.IncrBy's failures; the
	// protocols answer them with Redis's texts.
	errNotInteger = errors.New("value is not an integer or out of range")
	errOverflow   = errors.New("increment or decrement would overflow")
)

// ServerError is an error answer from a CloudHash server, as the Client
// returns it; Msg is the server's text, such as "ERR unknown command 'FOO'".
type ServerError struct {
	Msg string
}

// Error returns the server's text with the package prefix.
func (e *ServerError) Error() string { return "cloudhash: server: " + e.Msg }

// timeoutError is ErrTimeout: a net.Error whose Timeout is true.
type timeoutError struct{}

// Error, Timeout and Temporary make ErrTimeout a net.Error.
func (timeoutError) Error() string   { return "cloudhash: timeout waiting for the answer" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// Is matches os.ErrDeadlineExceeded.
func (timeoutError) Is(target error) bool {
	return target == os.ErrDeadlineExceeded
}
