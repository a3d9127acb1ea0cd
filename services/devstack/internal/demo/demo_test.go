package demo

import (
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTotals(t *testing.T) {
	got, err := parseTotals("totals produced=40012 failed=0 bytes=7123456 elapsed=20.004s")
	if err != nil {
		t.Fatal(err)
	}
	want := totals{produced: 40012, failed: 0, bytes: 7123456, elapsed: 20004 * time.Millisecond}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := parseTotals("totals produced=1 failed=0 bytes=2 elapsed=1s extra=7"); err != nil {
		t.Errorf("unknown keys must be ignored: %v", err)
	}
	for _, bad := range []string{
		"produced=1 failed=0 bytes=2 elapsed=1s",
		"totals produced=1 failed=0 bytes=2",
		"totals produced=x failed=0 bytes=2 elapsed=1s",
		"totals produced=1 failed=0 bytes=2 elapsed=soon",
		"totals produced",
	} {
		if _, err := parseTotals(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestLastLine(t *testing.T) {
	l := lastLine{prefix: "totals "}
	for _, s := range []string{"starting", "totals produced=1", "totally", "totals produced=2", "bye"} {
		l.observe(s)
	}
	if got := l.get(); got != "totals produced=2" {
		t.Fatalf("got %q", got)
	}
}

func fakeBins(t *testing.T, names ...string) string {
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestValidate(t *testing.T) {
	all := fakeBins(t, "producer", "writer", "devstack")
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"defaults", Config{BinDir: all}, ""},
		{"no binaries", Config{BinDir: t.TempDir()}, "make build"},
		{"external services need no devstack", Config{BinDir: fakeBins(t, "producer", "writer"), KafkaBrokers: "k:9092", RegistryURL: "http://r:8081"}, ""},
		{"one external service still needs the devstack", Config{BinDir: fakeBins(t, "producer", "writer"), KafkaBrokers: "k:9092"}, "devstack"},
		{"negative rate", Config{BinDir: all, Rate: -1}, "DEMO_RATE"},
		{"bad brokers", Config{BinDir: all, KafkaBrokers: "nope"}, "KAFKA_BROKERS"},
		{"bad registry", Config{BinDir: all, RegistryURL: "ftp://x"}, "SCHEMA_REGISTRY_URL"},
		{"bad metrics addr", Config{BinDir: all, WriterMetricsAddr: "9102"}, "WRITER_METRICS_ADDR"},
		{"bad port", Config{BinDir: all, KafkaPort: 70000}, "KAFKA_PORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestTopicDefaults(t *testing.T) {
	bins := fakeBins(t, "producer", "writer", "devstack")
	c := Config{BinDir: bins}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.Topic != "transactions" {
		t.Errorf("devstack topic %q, want transactions", c.Topic)
	}
	// An external broker may hold older records: a new topic per run.
	c = Config{BinDir: bins, KafkaBrokers: "k:9092"}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Topic, "transactions-demo-") {
		t.Errorf("external-Kafka topic %q, want a fresh transactions-demo-…", c.Topic)
	}
}

func TestCheckPorts(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()

	if err := checkPorts([]portCheck{{"writer metrics", freeAddr, "WRITER_METRICS_ADDR"}}); err != nil {
		t.Fatalf("free port reported busy: %v", err)
	}
	err = checkPorts([]portCheck{
		{"writer metrics", freeAddr, "WRITER_METRICS_ADDR"},
		{"devstack Kafka", busy.Addr().String(), "KAFKA_PORT"},
	})
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) || !strings.Contains(err.Error(), "KAFKA_PORT") {
		t.Fatalf("busy port: %v, want a message naming the address and KAFKA_PORT", err)
	}
}

func TestProgressLine(t *testing.T) {
	t0 := time.Unix(1000, 0)
	prev := sample{at: t0, produced: 1000, written: 900, dead: 0, lag: 100, age: 0.2}
	now := sample{at: t0.Add(2 * time.Second), produced: 5000, written: 4900, dead: 1, lag: 99, age: 1.25}
	got := now.line(prev, 12*time.Second+300*time.Millisecond)
	want := "   12s  produced 5,000 (2,000/s)  written 4,900 (2,000/s)  lag 99  checkpoint age 1.2s  dead letters 1"
	if got != want {
		t.Fatalf("\ngot  %q\nwant %q", got, want)
	}
	nan := math.NaN()
	unknown := sample{at: t0.Add(time.Second), produced: nan, written: nan, dead: nan, lag: nan, age: nan}
	if got := unknown.line(prev, time.Second); !strings.Contains(got, "produced - (-/s)") || !strings.Contains(got, "lag -") || !strings.Contains(got, "age -") {
		t.Fatalf("unknown values: %q", got)
	}
	if got := (sample{at: t0, age: -0.0004}).line(prev, 0); !strings.Contains(got, "checkpoint age 0.0s") {
		t.Fatalf("a hair below zero: %q", got)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
