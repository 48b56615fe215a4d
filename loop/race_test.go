//go:build race

package loop_test

// raceEnabled scales the heaviest tests down under the race detector, which
// slows loopback traffic by an order of magnitude.
const raceEnabled = true
