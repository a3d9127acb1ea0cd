package main_test

// End-to-end tests of the demo runner with the real binaries: the producer,
// writer and devstack of this checkout, built once into a temporary bin/,
// against the real PostgreSQL of DATABASE_URL.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
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

	"github.com/jackc/pgx/v5"

	"github.com/finflow/finflow/services/kit/pgtest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// bins builds the four binaries once per test binary.
func bins(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "finflow-demo-test-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(filepath.Separator),
			"github.com/finflow/finflow/services/producer/cmd/producer",
			"github.com/finflow/finflow/services/writer/cmd/writer",
			"github.com/finflow/finflow/services/devstack/cmd/devstack",
			"github.com/finflow/finflow/services/devstack/cmd/demo",
		)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// demoCmd is bin/demo on free ports and a database of its own, dropped when
// the test ends.
func demoCmd(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	dir := bins(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	db := "finflow_demo_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() { dropDatabase(t, db) })
	cmd := exec.Command(filepath.Join(dir, "demo"))
	cmd.Env = append(os.Environ(),
		"BIN_DIR="+dir,
		"DATABASE_URL="+pgtest.AdminURL(),
		"DEMO_DATABASE="+db,
		"DEMO_LOG_DIR="+t.TempDir(),
		"DEMO_LIVE=off",
		"KAFKA_PORT="+port(freeAddr(t)),
		"REGISTRY_PORT="+port(freeAddr(t)),
		"PRODUCER_METRICS_ADDR="+freeAddr(t),
		"WRITER_METRICS_ADDR="+freeAddr(t),
		"KAFKA_BROKERS=", "SCHEMA_REGISTRY_URL=", "KAFKA_TOPIC=",
	)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func dropDatabase(t *testing.T, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Errorf("drop %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	if err := pgtest.Drop(ctx, conn, name); err != nil {
		t.Errorf("drop %s: %v", name, err)
	}
}

func TestDemoPassesTheCheck(t *testing.T) {
	cmd := demoCmd(t, "DEMO_DURATION=5s", "DEMO_RATE=500")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	s := out.String()
	for _, want := range []string{
		"dropped and created empty",
		`answers every compatibility check with "compatible"`,
		"devstack ready (pid ",
		"writer ready (pid ",
		"producer ready (pid ",
		"stopping: 5s passed",
		"PASS: every produced record is in PostgreSQL exactly once",
		"Spend by category",
		"Top merchants",
		"Transactions by city",
		"Decline rate by channel",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	m := regexp.MustCompile(`producer: totals produced=(\d+) `).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no totals line in:\n%s", s)
	}
	if n, _ := strconv.Atoi(m[1]); n < 500 {
		t.Errorf("produced %d records in 5s at 500/s", n)
	}
	if !regexp.MustCompile(`ok +rows \+ dead letters = [\d,]+ \+ 0 = ([\d,]+); produced = ([\d,]+)`).MatchString(s) {
		t.Errorf("no passing count line:\n%s", s)
	}
}

// pids reads the runner's output until the producer is up and returns the
// children's pids from the "(pid N)" lines; the rest of the output keeps
// being copied to rest.
func pids(t *testing.T, stdout io.Reader, rest io.Writer) []int {
	t.Helper()
	sc := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`\(pid (\d+)\)`)
	var out []int
	var seen strings.Builder
	for sc.Scan() {
		line := sc.Text()
		seen.WriteString(line + "\n")
		if m := re.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			out = append(out, n)
		}
		if strings.HasPrefix(line, "producer ready") {
			go func() { _, _ = io.Copy(rest, stdout) }()
			return out
		}
	}
	t.Fatalf("runner ended before the producer was ready:\n%s", seen.String())
	return nil
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

func waitGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("child %d outlived the runner", pid)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestKill9LeavesNoOrphans(t *testing.T) {
	cmd := demoCmd(t) // no duration: runs until stopped
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	children := pids(t, stdout, io.Discard)
	if len(children) != 3 {
		_ = cmd.Process.Kill()
		t.Fatalf("got pids %v, want devstack, writer and producer", children)
	}
	for _, pid := range children {
		if !alive(pid) {
			t.Fatalf("child %d not running before the kill", pid)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, children)
}

func TestServiceDeathFailsTheRunWithItsLog(t *testing.T) {
	cmd := demoCmd(t)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	children := pids(t, stdout, io.Discard)
	if len(children) != 3 {
		_ = cmd.Process.Kill()
		t.Fatalf("got pids %v", children)
	}
	writer := children[1]
	if err := syscall.Kill(writer, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("runner did not stop after the writer died")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1", err)
	}
	if msg := errOut.String(); !strings.Contains(msg, "FAILED: writer exited unexpectedly") || !strings.Contains(msg, "last lines of") {
		t.Errorf("stderr does not name the writer and show its log:\n%s", msg)
	}
	waitGone(t, children)
}

// A writer that stops writing (SIGSTOP) leaves rows missing: the drain
// gives up and the run must fail the check, which is what demo-ci relies on.
func TestMissingRowsFailTheCheck(t *testing.T) {
	cmd := demoCmd(t, "DEMO_DURATION=4s", "DEMO_RATE=500", "DEMO_DRAIN_TIMEOUT=2s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var rest bytes.Buffer
	var mu sync.Mutex
	children := pids(t, stdout, writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return rest.Write(b)
	}))
	if len(children) != 3 {
		_ = cmd.Process.Kill()
		t.Fatalf("got pids %v", children)
	}
	if err := syscall.Kill(children[1], syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	mu.Lock()
	out := rest.String()
	mu.Unlock()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1\n%s", err, out)
	}
	for _, want := range []string{"drain: gave up, nothing stored for 2s", "FAIL rows + dead letters", "FAIL\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut.String(), "exactly-once check failed") {
		t.Errorf("stderr %q does not say the check failed", errOut.String())
	}
	waitGone(t, children)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestPortInUseFailsBeforeStarting(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cmd := demoCmd(t, "WRITER_METRICS_ADDR="+busy.Addr().String())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1", err)
	}
	msg := errOut.String()
	if !strings.Contains(msg, busy.Addr().String()) || !strings.Contains(msg, "WRITER_METRICS_ADDR") {
		t.Errorf("stderr %q does not name the address and WRITER_METRICS_ADDR", msg)
	}
	if strings.Contains(out.String(), "(pid ") {
		t.Errorf("started services despite the busy port:\n%s", out.String())
	}
}

func TestUnreachablePostgreSQL(t *testing.T) {
	cmd := demoCmd(t)
	cmd.Env = append(cmd.Env, "DATABASE_URL=postgres://finflow:finflow@127.0.0.1:1/finflow?sslmode=disable&connect_timeout=3")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1", err)
	}
	if msg := errOut.String(); !strings.Contains(msg, "PostgreSQL") || !strings.Contains(msg, "scripts/postgres.sh") {
		t.Errorf("stderr %q does not say PostgreSQL is the problem and how to start it", msg)
	}
	if strings.Contains(out.String(), "(pid ") {
		t.Errorf("started services without a database:\n%s", out.String())
	}
}

func TestBadSetting(t *testing.T) {
	cmd := demoCmd(t, "DEMO_DURATION=soon")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2", err)
	}
	if !strings.Contains(errOut.String(), "DEMO_DURATION") {
		t.Errorf("stderr %q does not name DEMO_DURATION", errOut.String())
	}
}
