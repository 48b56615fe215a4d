package handler

import "errors"

// ErrLineTooLong reports an FTP command line longer than MaxLine.
var ErrLineTooLong = errors.New("handler: command line too long")

// ErrUnknownProto reports a protocol name that is neither echo nor ftp.
var ErrUnknownProto = errors.New("handler: unknown protocol")
