package scenario

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseReady(t *testing.T) {
	b, r, err := ParseReady("devstack ready kafka=127.0.0.1:40001 registry=http://127.0.0.1:40002")
	if err != nil || b != "127.0.0.1:40001" || r != "http://127.0.0.1:40002" {
		t.Errorf("ParseReady = %q, %q, %v", b, r, err)
	}
	if _, _, err := ParseReady("devstack ready kafka=127.0.0.1:1"); err == nil {
		t.Error("no registry: want an error")
	}
}

func TestParseTotals(t *testing.T) {
	got, err := ParseTotals("totals produced=1000000 failed=0 bytes=187654321 elapsed=4.5s")
	if err != nil {
		t.Fatal(err)
	}
	want := Totals{Produced: 1000000, Failed: 0, Bytes: 187654321, Elapsed: 4500 * time.Millisecond}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if r := got.EventsPerSecond(); r < 222222 || r > 222223 {
		t.Errorf("events/s = %v, want 222,222.2", r)
	}
	// Unknown fields are ignored: a newer producer may print more.
	if _, err := ParseTotals("totals produced=1 failed=0 bytes=2 elapsed=1ms rate=1000"); err != nil {
		t.Errorf("extra field: %v", err)
	}
	for _, bad := range []string{
		"produced=1 failed=0 bytes=2 elapsed=1s",        // no "totals"
		"totals produced=1 failed=0 bytes=2",            // no elapsed
		"totals produced=x failed=0 bytes=2 elapsed=1s", // not a number
		"totals produced=1 failed=0 bytes=2 elapsed=1",  // not a duration
		"totals produced=1 failed=0 bytes=2 elapsed",    // not key=value
	} {
		if _, err := ParseTotals(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	if (Totals{Produced: 5}).EventsPerSecond() != 0 {
		t.Error("zero elapsed: want 0 events/s")
	}
}

func TestDrainRowsPerSecond(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := DrainRun{Rows: 1_000_000, FirstRow: t0, Done: t0.Add(8 * time.Second)}
	if got := r.RowsPerSecond(); got != 125_000 {
		t.Errorf("rows/s = %v, want 125,000", got)
	}
	if got := (DrainRun{Rows: 1, FirstRow: t0, Done: t0}).RowsPerSecond(); got != 0 {
		t.Errorf("no duration: rows/s = %v, want 0", got)
	}
}

func TestWriterOptionsArgs(t *testing.T) {
	if a := (WriterOptions{}).args(); len(a) != 0 {
		t.Errorf("defaults pass flags: %q", a)
	}
	a := WriterOptions{BatchMaxRecords: 5000, BatchMaxBytes: 64 << 20, BatchMaxWait: 50 * time.Millisecond}.args()
	want := []string{"--batch-max-records", "5000", "--batch-max-bytes", "67108864", "--batch-max-wait", "50ms"}
	if !slices.Equal(a, want) {
		t.Errorf("args = %q, want %q", a, want)
	}
}

func TestDefaultsChecksBinaries(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "exe")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e := Env{Bin: Binaries{Producer: exe, Writer: exe, Devstack: exe}, AdminURL: "postgres://x/y", LogDir: filepath.Join(dir, "logs")}
	if err := e.Defaults(); err != nil {
		t.Fatal(err)
	}
	if e.Sample != 250*time.Millisecond || e.Poll != 50*time.Millisecond || e.Partitions != 6 {
		t.Errorf("defaults = %v %v %v", e.Sample, e.Poll, e.Partitions)
	}
	if _, err := os.Stat(e.LogDir); err != nil {
		t.Errorf("log dir not created: %v", err)
	}
	for _, bad := range []Binaries{
		{Producer: exe, Writer: plain, Devstack: exe},
		{Producer: filepath.Join(dir, "missing"), Writer: exe, Devstack: exe},
		{Producer: exe, Writer: exe, Devstack: dir},
	} {
		e := Env{Bin: bad, AdminURL: "postgres://x/y", LogDir: dir}
		err := e.Defaults()
		if err == nil || !strings.Contains(err.Error(), "make build") {
			t.Errorf("%+v: err = %v, want a hint to build", bad, err)
		}
	}
}
