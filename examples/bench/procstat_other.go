//go:build !linux

package main

import (
	"errors"
	"time"
)

// errNoProc reports that this platform has no /proc to read servers' CPU
// time and memory from; the harness then reports throughput and latency only.
var errNoProc = errors.New("bench: /proc is needed for server CPU and memory (Linux only)")

// procStat is what the harness reads about one process.
type procStat struct {
	pid, pgrp   int
	state       byte
	cpu         time.Duration
	childrenCPU time.Duration
}

func readStat(int) (procStat, error)             { return procStat{}, errNoProc }
func readStatus(int) (rss, hwm int64, err error) { return 0, 0, errNoProc }
func groupMembers(int, bool) ([]procStat, error) { return nil, errNoProc }

// procSupported reports whether per-process CPU and memory can be read.
const procSupported = false

func taskCPU(int) (time.Duration, error) { return 0, errNoProc }
