package poller

import (
	"errors"
	"os"
)

// Errors the backends return for misuse of the registration calls.
var (
	// ErrBadFD reports a negative file descriptor.
	ErrBadFD = errors.New("poller: bad file descriptor")
	// ErrRegistered reports an Add for an fd that is already registered.
	ErrRegistered = errors.New("poller: fd already registered")
	// ErrNotRegistered reports a Modify or Close for an fd that is not
	// registered.
	ErrNotRegistered = errors.New("poller: fd not registered")
)

// wrapClose names a failed close(2) of one of a backend's own descriptors
// (its kernel queue, its wake-up fd) for Release; nil stays nil.
func wrapClose(name string, err error) error {
	if err != nil {
		return os.NewSyscallError(name, err)
	}
	return nil
}
