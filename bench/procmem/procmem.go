// Package procmem reads a process's resident memory from Linux's
// /proc/<pid>/status: VmRSS (now) and VmHWM (the peak, "high water mark"),
// which the benchmark reports for the producer and writer it runs.
package procmem

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Status is the memory part of /proc/<pid>/status, in bytes.
type Status struct {
	RSS  int64 // VmRSS: resident set size now
	Peak int64 // VmHWM: peak resident set size so far
}

// ErrNoMemory means the status has no Vm* lines: a kernel thread, or a
// zombie whose memory is already released.
var ErrNoMemory = errors.New("process status has no VmRSS/VmHWM")

// Parse reads the VmRSS and VmHWM lines of a status file ("VmHWM:  123 kB").
func Parse(r io.Reader) (Status, error) {
	var st Status
	var seen int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		n, err := kilobytes(rest)
		if err != nil {
			return Status{}, fmt.Errorf("%s: %w", key, err)
		}
		if key == "VmRSS" {
			st.RSS = n
		} else {
			st.Peak = n
		}
		seen++
	}
	if err := sc.Err(); err != nil {
		return Status{}, fmt.Errorf("read status: %w", err)
	}
	if seen == 0 {
		return Status{}, ErrNoMemory
	}
	return st, nil
}

// kilobytes parses " 123 kB" into bytes (the kernel's "kB" is KiB).
func kilobytes(s string) (int64, error) {
	f := strings.Fields(s)
	if len(f) != 2 || f[1] != "kB" {
		return 0, fmt.Errorf("unexpected value %q, want \"<n> kB\"", strings.TrimSpace(s))
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("unexpected value %q", strings.TrimSpace(s))
	}
	return n * 1024, nil
}

// Read reads /proc/<pid>/status.
func Read(pid int) (Status, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Status{}, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	defer f.Close()
	st, err := Parse(f)
	if err != nil {
		return Status{}, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	return st, nil
}
