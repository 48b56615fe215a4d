package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of the times in /proc/PID/stat: 100 on
// every Linux architecture Go supports (sysconf(_SC_CLK_TCK)).
const clockTick = 10 * time.Millisecond

// procStat is what the harness reads about one process.
type procStat struct {
	pid, pgrp   int
	state       byte
	cpu         time.Duration // utime+stime
	childrenCPU time.Duration // cutime+cstime: children it has waited for
}

// readStat parses /proc/PID/stat (proc(5)).
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("read stat: %w", err)
	}
	// The command name is in parentheses and may hold spaces: fields
	// resume after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state); field n is f[n-3].
	num := func(field int) int64 {
		v, _ := strconv.ParseInt(f[field-3], 10, 64)
		return v
	}
	return procStat{
		pid:         pid,
		pgrp:        int(num(5)),
		state:       f[0][0],
		cpu:         time.Duration(num(14)+num(15)) * clockTick,
		childrenCPU: time.Duration(num(16)+num(17)) * clockTick,
	}, nil
}

// readStatus returns VmRSS and VmHWM of a process in bytes
// (/proc/PID/status, proc(5)).
func readStatus(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read status: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, nil
}

// groupMembers returns the processes of process group pgid, by scanning
// /proc; zombies (exited, not yet waited for) only if withZombies, since
// their CPU time is not yet in their parent's cutime.
func groupMembers(pgid int, withZombies bool) ([]procStat, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("scan /proc: %w", err)
	}
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.pgrp != pgid || (st.state == 'Z' && !withZombies) {
			continue
		}
		out = append(out, st)
	}
	return out, nil
}

// procSupported reports whether per-process CPU and memory can be read.
const procSupported = true

// taskCPU returns the CPU time of a process's live threads in nanoseconds
// from /proc/PID/task/*/schedstat (the first field of each,
// Documentation/scheduler/sched-stats.rst). Unlike /proc/PID/stat it is not
// rounded to clock ticks per process, which matters for a hundred child
// processes that each run a few milliseconds; it misses threads that have
// exited.
func taskCPU(pid int) (time.Duration, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("read tasks: %w", err)
	}
	var total time.Duration
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited
		}
		f, _, _ := strings.Cut(string(b), " ")
		ns, _ := strconv.ParseInt(f, 10, 64)
		total += time.Duration(ns)
	}
	return total, nil
}
