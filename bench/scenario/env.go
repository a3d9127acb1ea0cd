// Package scenario runs the benchmark's measurements against the real
// binaries: it starts the devstack (embedded Kafka broker and schema
// registry), pre-fills topics with the producer, drains them with the writer
// into fresh PostgreSQL databases and runs the producer at fixed rates
// through a live writer, sampling the writer's metrics as it goes.
//
// A component that does not start, crashes or stalls is an error; a slow one
// is a measurement.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/finflow/finflow/bench/child"
)

// Binaries are the programs under test.
type Binaries struct {
	Producer, Writer, Devstack string
}

// Env is what every scenario needs. Set every field; Defaults fills the
// timing ones.
type Env struct {
	Bin      Binaries
	AdminURL string // PostgreSQL server to create scratch databases on
	LogDir   string // child process logs
	// Sample is the spacing of the chart's samples of the writer's metrics.
	// Default 250ms.
	Sample time.Duration
	// Poll is how often the writer's metrics are read to notice the end of
	// a run; it bounds the error of "last commit" times. Default 50ms.
	Poll time.Duration
	// Partitions of every topic. Default 6, as the README's topic.
	Partitions int
	// Logf reports progress (to stderr). Default: discard.
	Logf func(format string, args ...any)

	seq  int
	http *http.Client
}

// Defaults fills unset timing fields and checks the rest.
func (e *Env) Defaults() error {
	if e.Sample <= 0 {
		e.Sample = 250 * time.Millisecond
	}
	if e.Poll <= 0 {
		e.Poll = 50 * time.Millisecond
	}
	if e.Partitions <= 0 {
		e.Partitions = 6
	}
	if e.Logf == nil {
		e.Logf = func(string, ...any) {}
	}
	if e.http == nil {
		e.http = &http.Client{Timeout: 5 * time.Second}
	}
	for name, p := range map[string]string{"producer": e.Bin.Producer, "writer": e.Bin.Writer, "devstack": e.Bin.Devstack} {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return fmt.Errorf("%s binary %q is missing or not executable (build it: make build)", name, p)
		}
	}
	if e.AdminURL == "" {
		return errors.New("DATABASE_URL is empty")
	}
	return os.MkdirAll(e.LogDir, 0o755)
}

// start starts a child with its log in LogDir, numbered in start order.
func (e *Env) start(name, bin string, args ...string) (*child.Process, error) {
	return e.startEnv(name, bin, nil, args...)
}

// startEnv is start with extra environment variables.
func (e *Env) startEnv(name, bin string, env []string, args ...string) (*child.Process, error) {
	e.seq++
	log := filepath.Join(e.LogDir, fmt.Sprintf("%03d-%s.log", e.seq, name))
	return child.Start(child.Spec{Name: name, Path: bin, Args: args, Env: env, Log: log})
}

// failed describes a child that failed: what happened, its log, and the
// log's last lines, which usually say why.
func failed(p *child.Process, what error) error {
	tail := p.Tail(5)
	if tail == "" {
		return fmt.Errorf("%w (log: %s)", what, p.Log())
	}
	return fmt.Errorf("%w (log: %s; last lines:\n%s)", what, p.Log(), indent(tail))
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago, for a child's --metrics-addr.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// Stack is a running devstack.
type Stack struct {
	proc     *child.Process
	Brokers  string
	Registry string
}

// StartStack starts the devstack on free ports and waits for its ready line.
func (e *Env) StartStack(ctx context.Context) (*Stack, error) {
	p, err := e.start("devstack", e.Bin.Devstack, "--kafka-port", "0", "--registry-port", "0",
		"--partitions", strconv.Itoa(e.Partitions))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	line, err := p.WaitLine(ctx, "devstack ready ")
	if err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, failed(p, fmt.Errorf("devstack did not start: %w", err))
	}
	brokers, registry, err := ParseReady(line)
	if err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	return &Stack{proc: p, Brokers: brokers, Registry: registry}, nil
}

// ParseReady reads the devstack's "devstack ready kafka=<addr> registry=<url>".
func ParseReady(line string) (brokers, registry string, err error) {
	for _, f := range strings.Fields(strings.TrimPrefix(line, "devstack ready")) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "kafka":
			brokers = v
		case "registry":
			registry = v
		}
	}
	if brokers == "" || registry == "" {
		return "", "", fmt.Errorf("devstack ready line %q lacks kafka= or registry=", line)
	}
	return brokers, registry, nil
}

// CreateTopic creates topic with the Env's partition count.
func (e *Env) CreateTopic(ctx context.Context, s *Stack, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers))
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, int32(e.Partitions), 1, nil, topic); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// Close stops the devstack.
func (s *Stack) Close() error { return s.proc.Stop(15 * time.Second) }
