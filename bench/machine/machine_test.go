package machine

import (
	"strings"
	"testing"
)

func TestCPUModel(t *testing.T) {
	in := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)  CPU @ 2.20GHz\n\nprocessor\t: 1\nmodel name\t: other\n"
	if got := CPUModel(strings.NewReader(in)); got != "Intel(R) Xeon(R) CPU @ 2.20GHz" {
		t.Errorf("CPUModel = %q", got)
	}
	if got := CPUModel(strings.NewReader("processor : 0\n")); got != "" {
		t.Errorf("no model line: got %q", got)
	}
}

func TestMemTotal(t *testing.T) {
	n, err := MemTotal(strings.NewReader("MemTotal:       24684312 kB\nMemFree:  1 kB\n"))
	if err != nil || n != 24684312*1024 {
		t.Errorf("MemTotal = %d, %v", n, err)
	}
	if _, err := MemTotal(strings.NewReader("MemFree: 1 kB\n")); err == nil {
		t.Error("no MemTotal line: want an error")
	}
	if _, err := MemTotal(strings.NewReader("MemTotal: 12 GB\n")); err == nil {
		t.Error("odd unit: want an error")
	}
}

func TestDescribeThisMachine(t *testing.T) {
	info := Describe()
	if info.CPUs < 1 || info.MemTotal <= 0 || !strings.HasPrefix(info.Kernel, "Linux ") || info.Go == "" {
		t.Errorf("Describe() = %+v", info)
	}
}
