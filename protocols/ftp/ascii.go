package ftp

// ASCII (TYPE A) transfers carry lines ending in CR LF (RFC 959 §3.1.1.1);
// files here end lines in LF. Downloads turn each LF not already preceded by
// CR into CR LF; uploads turn CR LF into LF. Both work chunk by chunk, so
// each carries one byte of state across chunk boundaries.

// toCRLF appends src to dst with every LF that does not follow a CR turned
// into CR LF. prevCR says whether the byte before src was a CR; the result
// says whether src's last byte is one.
func toCRLF(dst, src []byte, prevCR bool) ([]byte, bool) {
	for _, b := range src {
		if b == '\n' && !prevCR {
			dst = append(dst, '\r')
		}
		dst = append(dst, b)
		prevCR = b == '\r'
	}
	return dst, prevCR
}

// fromCRLF appends src to dst with every CR LF turned into LF. A CR at the
// end of src is held back (the result's pending is true), since the LF that
// completes it may begin the next chunk; pass pending to the next call, and
// write a CR if it is still pending at the end of the stream. A CR not
// followed by LF is kept.
func fromCRLF(dst, src []byte, pending bool) ([]byte, bool) {
	for _, b := range src {
		if pending {
			pending = false
			if b != '\n' {
				dst = append(dst, '\r')
			}
		}
		if b == '\r' {
			pending = true
			continue
		}
		dst = append(dst, b)
	}
	return dst, pending
}
