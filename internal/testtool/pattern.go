package testtool

// Pattern returns n bytes that differ with seed and position (an xorshift
// sequence), so a misplaced, repeated or dropped chunk of a transfer shows
// up when it is compared with the original.
func Pattern(n int, seed int) []byte {
	b := make([]byte, n)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
