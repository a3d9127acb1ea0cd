// Package machine describes the computer a benchmark ran on (CPU model and
// count, memory, kernel, load), read from Linux's /proc, so results from
// different machines are never compared blindly.
package machine

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Info is the machine description.
type Info struct {
	CPUModel string
	CPUs     int   // logical CPUs usable by this process
	MemTotal int64 // bytes
	Kernel   string
	LoadAvg  string // 1, 5 and 15 minute load averages when described
	Go       string
}

// Describe reads the description of this machine. Fields it cannot read are
// left as "unknown" rather than failing: the description is context, not a
// measurement.
func Describe() Info {
	info := Info{CPUModel: "unknown", CPUs: runtime.NumCPU(), Kernel: "unknown", LoadAvg: "unknown", Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		if m := CPUModel(f); m != "" {
			info.CPUModel = m
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		info.MemTotal, _ = MemTotal(f)
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		info.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			info.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return info
}

// CPUModel returns the first "model name" of a /proc/cpuinfo.
func CPUModel(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

// MemTotal returns the MemTotal of a /proc/meminfo in bytes.
func MemTotal(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != "MemTotal" {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("MemTotal: unexpected value %q", strings.TrimSpace(v))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("MemTotal: %w", err)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("no MemTotal line")
}
