package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/finflow/finflow/services/kit/pgtest"
	"github.com/finflow/finflow/services/writer/internal/fixture"
)

// The writer binaries the tests run as subprocesses: one with failpoints
// compiled in (crash tests), one as shipped (benchmarks).
var (
	failpointBin string
	releaseBin   string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "writer-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	failpointBin, releaseBin = filepath.Join(dir, "writer-failpoints"), filepath.Join(dir, "writer")
	for _, b := range []struct {
		out  string
		args []string
	}{{failpointBin, []string{"-tags", "failpoints"}}, {releaseBin, nil}} {
		// WRITER_BUILD_FLAGS adds build flags, e.g. "-race".
		args := append(append([]string{"build"}, strings.Fields(os.Getenv("WRITER_BUILD_FLAGS"))...), b.args...)
		cmd := exec.Command("go", append(args, "-o", b.out, ".")...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build the writer: %v\n", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	topic = "transactions"
	group = "finflow-writer"
)

// stack is one test's Kafka, registry and database.
type stack struct {
	brokers  []string
	registry *srfake.Registry
	producer *fixture.Producer
	schemaID int
	dbURL    string
	db       *pgxpool.Pool
}

func newStack(t testing.TB, partitions int32) *stack {
	t.Helper()
	s := &stack{registry: srfake.New(), dbURL: pgtest.New(t)}
	t.Cleanup(s.registry.Close)
	s.brokers = fixture.Cluster(t, topic, partitions).ListenAddrs()
	cl, err := sr.NewClient(sr.URLs(s.registry.URL()))
	if err != nil {
		t.Fatal(err)
	}
	serde, id, err := fixture.Register(context.Background(), cl, topic)
	if err != nil {
		t.Fatal(err)
	}
	s.schemaID = id
	s.producer = fixture.NewProducer(t, s.brokers, topic, serde)
	if s.db, err = pgxpool.New(context.Background(), s.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.db.Close)
	return s
}

// env is the writer's configuration for this stack, through the
// environment as a deployment would set it; short group timeouts so a
// killed member is replaced quickly.
func (s *stack) env(extra ...string) []string {
	return append([]string{
		"KAFKA_BROKERS=" + strings.Join(s.brokers, ","),
		"SCHEMA_REGISTRY_URL=" + s.registry.URL(),
		"DATABASE_URL=" + s.dbURL,
		"KAFKA_TOPIC=" + topic,
		"METRICS_ADDR=",
		"GROUP_SESSION_TIMEOUT=1500ms",
		"GROUP_REBALANCE_TIMEOUT=4s",
		"BATCH_MAX_WAIT=20ms",
		"LOG_LEVEL=info",
		"PATH=" + os.Getenv("PATH"),
	}, extra...)
}

// proc is a running writer process.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func start(t testing.TB, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() || os.Getenv("WRITER_TEST_LOGS") != "" {
			// The whole log goes to a file; the test output gets its end.
			path := filepath.Join(os.TempDir(), "writer-test-logs", strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(t.Name()+"-"+p.name)+".log")
			_ = os.MkdirAll(filepath.Dir(path), 0o755)
			_ = os.WriteFile(path, []byte(p.out.String()), 0o644)
			t.Logf("--- output of %s (all of it in %s):\n%s", p.name, path, tail(p.out.String(), 80))
		}
	})
	return p
}

func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(timeout time.Duration) {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %v of SIGTERM", p.name, timeout)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Fatalf("%s exited %d after SIGTERM, want 0", p.name, code)
	}
}

// wait waits for the process to end by itself.
func (p *proc) wait(timeout time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// dump makes the process write its goroutines into its output (SIGQUIT),
// for the failure report of a process that should have ended.
func (p *proc) dump() {
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
	}
}

func (p *proc) killedBySignal() bool {
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
