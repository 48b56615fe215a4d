package loop_test

import (
	"os"
	"strconv"
	"testing"
)

// lowestFreeFD returns the lowest descriptor number not open in this process.
func lowestFreeFD(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	open := map[int]bool{}
	for _, e := range ents {
		n, _ := strconv.Atoi(e.Name())
		open[n] = true
	}
	for i := 0; ; i++ {
		if !open[i] {
			return i
		}
	}
}
