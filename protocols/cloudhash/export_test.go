package cloudhash

// WithIOTrace makes the server's protocols report each OnData ("data")
// and each Write of replies ("write") to fn, on the loop goroutines.
func WithIOTrace(fn func(event string)) Option {
	return func(c *config) { c.trace = fn }
}

// LingerTimeout is how long a connection rejected for bad input lingers at
// most before it closes.
const LingerTimeout = lingerTimeout
