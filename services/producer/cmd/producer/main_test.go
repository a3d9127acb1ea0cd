package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	"github.com/finflow/finflow/services/producer/encoding"
)

// binary is the producer built once for the cross-process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "producer-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "producer")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build producer:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type proc struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	done           chan struct{}
	code           int
}

// start runs the producer binary with args and only the environment given
// (plus PATH), so a developer's KAFKA_BROKERS cannot leak into the test.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), done: make(chan struct{})}
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("producer stdout:\n%s\nproducer stderr:\n%s", p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

func (p *proc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(within):
		t.Fatalf("producer still running after %v", within)
		return -1
	}
}

// waitStderr waits for a log line matching re and returns its submatches.
func (p *proc) waitStderr(t *testing.T, re *regexp.Regexp, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
			return m
		}
		select {
		case <-p.done:
			t.Fatalf("producer exited (%d) before logging %v", p.code, re)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no log line matching %v within %v", re, within)
	return nil
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

var totalsRe = regexp.MustCompile(`^totals produced=(\d+) failed=(\d+) bytes=(\d+) elapsed=(\S+)$`)

func parseTotals(t *testing.T, stdout string) (produced, failed int64) {
	t.Helper()
	m := totalsRe.FindStringSubmatch(lastLine(stdout))
	if m == nil {
		t.Fatalf("last stdout line %q is not the totals line", lastLine(stdout))
	}
	if _, err := time.ParseDuration(m[4]); err != nil {
		t.Fatalf("elapsed %q is not a Go duration", m[4])
	}
	produced, _ = strconv.ParseInt(m[1], 10, 64)
	failed, _ = strconv.ParseInt(m[2], 10, 64)
	return produced, failed
}

func stack(t *testing.T, opts ...kfake.Opt) (*kfake.Cluster, *srfake.Registry) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	reg := srfake.New()
	t.Cleanup(reg.Close)
	return c, reg
}

func endOffsets(t *testing.T, brokers []string, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		return 0 // not created yet
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

var metricsAddrRe = regexp.MustCompile(`msg="serving metrics" addr=(\S+)`)

// SIGTERM in the middle of a run: the producer stops, drains and exits 0,
// and the totals it prints match what the topic holds, record for record.
func TestSIGTERMLosesNothingAcknowledged(t *testing.T) {
	c, reg := stack(t)
	p := start(t, nil,
		"--kafka-brokers", c.ListenAddrs()[0], "--schema-registry-url", reg.URL(),
		"--kafka-topic", "payments", "--rate", "20000", "--metrics-addr", "127.0.0.1:0")
	addr := p.waitStderr(t, metricsAddrRe, 15*time.Second)[1]
	p.waitStderr(t, regexp.MustCompile(`msg=producing`), 15*time.Second)

	deadline := time.Now().Add(20 * time.Second)
	for endOffsets(t, c.ListenAddrs(), "payments") < 2_000 {
		if time.Now().After(deadline) {
			t.Fatal("producer did not get 2,000 records into the topic")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Running: healthy, and the metrics are served.
	if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz while producing: %d %s", code, body)
	}
	_, metrics := get(t, "http://"+addr+"/metrics")
	for _, name := range []string{`finflow_producer_records_total{topic="payments"}`, "finflow_producer_target_rate 20000",
		"finflow_producer_produce_latency_seconds_bucket", "finflow_kafka_connects_total", "go_goroutines"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	produced, failed := parseTotals(t, p.stdout.String())
	inTopic := endOffsets(t, c.ListenAddrs(), "payments")
	if failed != 0 || produced != inTopic || produced < 2_000 {
		t.Fatalf("totals produced=%d failed=%d, topic holds %d", produced, failed, inTopic)
	}

	// Every record is a valid transaction framed with the registered id.
	ss, ok := reg.GetSchema("payments-value", 1)
	if !ok {
		t.Fatal("schema not registered under payments-value")
	}
	enc := encoding.NewEncoder(ss.ID)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("payments"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := map[string]bool{}
	for int64(len(seen)) < produced && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var tx finflowv1.Transaction
			if err := enc.Decode(r.Value, &tx); err != nil {
				t.Fatalf("offset %d: %v", r.Offset, err)
			}
			if seen[tx.TransactionId] || string(r.Key) != tx.AccountId {
				t.Fatalf("duplicate %s or key %q != account %q", tx.TransactionId, r.Key, tx.AccountId)
			}
			seen[tx.TransactionId] = true
		})
	}
	if int64(len(seen)) != produced {
		t.Fatalf("read back %d distinct transactions, want %d", len(seen), produced)
	}
}

// /healthz answers 503 until the broker is reached and the schema registered.
func TestHealthzWaitsForStartUp(t *testing.T) {
	c, reg := stack(t)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the registry's Close, which waits for held requests
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		<-release // hold start-up at the registry
		return false
	})
	p := start(t, nil, "--kafka-brokers", c.ListenAddrs()[0], "--schema-registry-url", reg.URL(),
		"--metrics-addr", "127.0.0.1:0", "--count", "10", "--rate", "0", "--connect-timeout", "30s")
	addr := p.waitStderr(t, metricsAddrRe, 15*time.Second)[1]
	if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/healthz before start-up finished: %d %s, want 503", code, body)
	}
	if code, _ := get(t, "http://"+addr+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before start-up finished: %d, want 503", code)
	}
	unblock()
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if produced, _ := parseTotals(t, p.stdout.String()); produced != 10 {
		t.Fatalf("produced %d, want 10", produced)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A second signal does not wait for a drain that cannot finish.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	c, reg := stack(t)
	p := start(t, nil, "--kafka-brokers", c.ListenAddrs()[0], "--schema-registry-url", reg.URL(),
		"--metrics-addr", "", "--rate", "1000", "--flush-timeout", "5m")
	p.waitStderr(t, regexp.MustCompile(`msg=producing`), 15*time.Second)
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, nil, true // the broker stops answering produce requests
	})
	time.Sleep(300 * time.Millisecond)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitStderr(t, regexp.MustCompile(`msg=draining`), 10*time.Second)
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, 10*time.Second); code == 0 {
		t.Fatal("exit code 0 after abandoning unacknowledged records")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("second signal took %v to exit", took)
	}
	if _, failed := parseTotals(t, p.stdout.String()); failed == 0 {
		t.Fatal("abandoned records not counted as failed")
	}
}

// Bad input: one line on stderr naming what to fix, a non-zero exit, fast.
func TestBadInput(t *testing.T) {
	c, reg := stack(t)
	empty := srfake.New() // nothing registered
	t.Cleanup(empty.Close)
	conflict := srfake.New()
	t.Cleanup(conflict.Close)
	const refusal = "Schema being registered is incompatible with an earlier schema"
	conflict.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/versions") {
			return false
		}
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(map[string]any{"error_code": 409, "message": refusal})
		return true
	})
	broker, registry := c.ListenAddrs()[0], reg.URL()

	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		code   int
		within time.Duration
		want   string // in the one stderr line
	}{
		{"unreachable broker", nil, []string{"--kafka-brokers", closedPort(t), "--schema-registry-url", registry},
			1, 15 * time.Second, "KAFKA_BROKERS: no broker at"},
		{"unreachable registry", nil, []string{"--kafka-brokers", broker, "--schema-registry-url", "http://" + closedPort(t)},
			1, 15 * time.Second, "SCHEMA_REGISTRY_URL: no schema registry at"},
		{"malformed registry URL", nil, []string{"--schema-registry-url", "localhost:8081"},
			2, 5 * time.Second, "SCHEMA_REGISTRY_URL:"},
		{"malformed brokers", nil, []string{"--kafka-brokers", "kafka"},
			2, 5 * time.Second, "KAFKA_BROKERS:"},
		{"negative rate", nil, []string{"--rate", "-5"},
			2, 5 * time.Second, "RATE: must be a number >= 0"},
		{"negative rate from the environment", []string{"RATE=-1"}, nil,
			2, 5 * time.Second, "RATE:"},
		{"negative count", nil, []string{"--count", "-1"},
			2, 5 * time.Second, "COUNT:"},
		{"negative duration", nil, []string{"--duration", "-1s"},
			2, 5 * time.Second, "DURATION:"},
		{"unknown flag", nil, []string{"--bogus"},
			2, 5 * time.Second, "flag provided but not defined: -bogus"},
		{"unknown compression", nil, []string{"--compression", "brotli"},
			2, 5 * time.Second, "COMPRESSION:"},
		{"unknown compatibility", nil, []string{"--compatibility", "SIDEWAYS"},
			2, 5 * time.Second, "COMPATIBILITY:"},
		{"schema not registered", nil, []string{"--kafka-brokers", broker, "--schema-registry-url", empty.URL(), "--register-schema=false"},
			1, 10 * time.Second, "does not hold finflow/v1/transaction.proto"},
		{"incompatible schema", nil, []string{"--kafka-brokers", broker, "--schema-registry-url", conflict.URL()},
			1, 10 * time.Second, refusal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			begin := time.Now()
			p := start(t, tc.env, append([]string{"--metrics-addr", ""}, tc.args...)...)
			code := p.wait(t, tc.within+5*time.Second)
			if took := time.Since(begin); took > tc.within {
				t.Errorf("took %v, want under %v", took, tc.within)
			}
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			line := lastLine(p.stderr.String())
			if !strings.HasPrefix(line, "producer: ") || !strings.Contains(line, tc.want) {
				t.Errorf("last stderr line %q, want \"producer: ...%s...\"", line, tc.want)
			}
			if p.stdout.String() != "" {
				t.Errorf("stdout %q, want nothing: no run, no totals", p.stdout.String())
			}
		})
	}
}

// In-process: --count runs to completion and the same --seed twice gives the
// same records, with configuration taken from the environment.
func TestCountAndSeedFromEnvironment(t *testing.T) {
	c, reg := stack(t)
	for i := range 2 {
		t.Setenv("KAFKA_BROKERS", c.ListenAddrs()[0])
		t.Setenv("SCHEMA_REGISTRY_URL", reg.URL())
		t.Setenv("KAFKA_TOPIC", "seeded")
		t.Setenv("METRICS_ADDR", "")
		t.Setenv("SEED", "99")
		var stdout, stderr bytes.Buffer
		code := run([]string{"--count", "1000", "--rate", "0", "--users", "50", "--compression", "lz4"}, &stdout, &stderr, nil, func(int) {})
		if code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i, code, stderr.String())
		}
		if produced, _ := parseTotals(t, stdout.String()); produced != 1000 {
			t.Fatalf("run %d: produced %d", i, produced)
		}
	}
	// Two runs with one seed: 1,000 transaction ids, each written twice.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("seeded"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ids, accounts, n := map[string]int{}, map[string]bool{}, 0
	for n < 2000 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var tx finflowv1.Transaction
			if err := encoding.NewEncoder(1).Decode(r.Value, &tx); err != nil {
				t.Fatal(err)
			}
			ids[tx.TransactionId]++
			accounts[tx.AccountId] = true
			n++
		})
	}
	if n != 2000 || len(ids) != 1000 || len(accounts) > 50 {
		t.Fatalf("%d records, %d distinct ids, %d accounts; want 2000, 1000, <= 50", n, len(ids), len(accounts))
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr, nil, func(int) {}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"--rate (RATE", "--kafka-brokers (KAFKA_BROKERS", "--register-schema (REGISTER_SCHEMA"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
