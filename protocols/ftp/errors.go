package ftp

import "errors"

// ErrConfig reports options that cannot work together, or a users file
// that cannot be read.
var ErrConfig = errors.New("ftp: bad configuration")
