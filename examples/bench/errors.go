package main

import "errors"

// errUsage reports bad flags.
var errUsage = errors.New("bench: usage")

// errMismatch marks a wrong answer from a server: the run fails.
var errMismatch = errors.New("bench: wrong answer")

// errUnavailable marks a server this machine cannot build (no C compiler,
// no reference source): it is reported n/a, not as a failure.
var errUnavailable = errors.New("bench: unavailable")
