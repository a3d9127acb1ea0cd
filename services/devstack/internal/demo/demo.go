// Package demo runs the whole pipeline for `make demo`: a fresh database,
// the devstack (embedded Kafka and registry), the writer and the producer as
// child processes, live progress from their /metrics, an orderly drain and
// stop, and a summary whose exactly-once check comes from PostgreSQL itself.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/finflow/finflow/services/devstack/internal/audit"
	"github.com/finflow/finflow/services/devstack/stack"
	"github.com/finflow/finflow/services/kit/proc"
)

// ErrCheckFailed is returned when the run finished but the database does not
// hold exactly the produced records.
var ErrCheckFailed = errors.New("exactly-once check failed")

// ServiceError says that a service failed, with the end of its log.
type ServiceError struct {
	Service string
	LogPath string
	Tail    []string
	Err     error
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("%s: %v", e.Service, e.Err)
}

func (e *ServiceError) Unwrap() error { return e.Err }

// Grace periods for SIGTERM before SIGKILL.
const (
	producerGrace = 30 * time.Second
	writerGrace   = 30 * time.Second
	devstackGrace = 10 * time.Second
)

type runner struct {
	cfg  Config
	out  *syncWriter
	http *http.Client

	mu    sync.Mutex
	procs []*proc.Process // started, in order

	kafka, registry string
	demoURL         string
	started         time.Time
	producerTotals  lastLine
}

// Run runs the demo until cfg.Duration passes or ctx ends, then drains,
// stops every service and checks the database. It returns nil only when the
// check passes. Whatever happens, no child outlives it.
func Run(ctx context.Context, cfg Config) (err error) {
	if err := cfg.validate(); err != nil {
		return err
	}
	r := &runner{cfg: cfg, out: &syncWriter{w: cfg.Out}, http: &http.Client{Timeout: 2 * time.Second},
		producerTotals: lastLine{prefix: "totals "}}
	defer r.stopAll()

	if r.cfg.LogDir == "" {
		dir, err := os.MkdirTemp("", "finflow-demo-")
		if err != nil {
			return fmt.Errorf("log directory: %w", err)
		}
		r.cfg.LogDir = dir
	} else if err := os.MkdirAll(r.cfg.LogDir, 0o755); err != nil {
		return fmt.Errorf("LOG_DIR: %w", err)
	}
	r.say("finflow demo: rate %s, %s; service logs in %s", rateText(cfg.Rate), durationText(cfg.Duration), r.cfg.LogDir)

	if err := checkPorts(r.cfg.ports()); err != nil {
		return err
	}
	// Start-up and the final steps must not be cut short by the Ctrl-C
	// that ends the run, so they get their own deadlines.
	bg := context.WithoutCancel(ctx)

	if err := r.database(bg); err != nil {
		return err
	}
	if err := r.startServices(ctx); err != nil {
		return err
	}
	p, err := r.watch(ctx)
	if err != nil {
		return err
	}
	totals, err := r.stopProducer()
	if err != nil {
		return err
	}
	last, drained, err := r.drain(bg, p, totals)
	if err != nil {
		return err
	}
	// A service that fails to stop cleanly fails the run, but the check
	// still runs: what is in the database is worth knowing either way.
	stopErr := r.stopRest()
	return errors.Join(stopErr, r.summary(bg, totals, last, drained))
}

// database recreates the demo database and migrates it with the writer.
func (r *runner) database(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.StartTimeout)
	defer cancel()
	u, err := audit.Recreate(ctx, r.cfg.ServerURL, r.cfg.Database)
	if err != nil {
		return fmt.Errorf("PostgreSQL: %w (is it running? `bash scripts/postgres.sh` starts it)", err)
	}
	r.demoURL = u
	server := "?"
	if pu, err := url.Parse(u); err == nil {
		server = pu.Host
	}
	r.say("database %s on %s: dropped and created empty, so the exactly-once check counts this run's rows only", r.cfg.Database, server)

	p, err := r.start("migrate", "writer", []string{"migrate"}, nil, nil)
	if err != nil {
		return err
	}
	if err := p.Wait(ctx); err != nil {
		return r.failed(p, fmt.Errorf("writer migrate failed: %w", err))
	}
	r.say("migrated %s (bin/writer migrate)", r.cfg.Database)
	return nil
}

func (r *runner) startServices(ctx context.Context) error {
	r.kafka, r.registry = r.cfg.KafkaBrokers, r.cfg.RegistryURL
	if r.cfg.needDevstack() {
		if err := r.startDevstack(ctx); err != nil {
			return err
		}
	} else {
		r.say("using external Kafka %s and schema registry %s (no devstack)", r.kafka, r.registry)
	}

	common := []string{
		"--kafka-brokers", r.kafka,
		"--schema-registry-url", r.registry,
		"--kafka-topic", r.cfg.Topic,
	}
	w, err := r.start("writer", "writer", append([]string{"run", "--metrics-addr", r.cfg.WriterMetricsAddr}, common...), nil, nil)
	if err != nil {
		return err
	}
	if err := r.waitHealthy(ctx, w, r.cfg.WriterMetricsAddr); err != nil {
		return err
	}
	r.say("writer ready (pid %d), metrics on http://%s/metrics", w.Pid(), r.cfg.WriterMetricsAddr)

	args := append([]string{"--metrics-addr", r.cfg.ProducerMetricsAddr, "--rate", strconv.Itoa(r.cfg.Rate)}, common...)
	pr, err := r.start("producer", "producer", args, r.producerTotals.observe, nil)
	if err != nil {
		return err
	}
	if err := r.waitHealthy(ctx, pr, r.cfg.ProducerMetricsAddr); err != nil {
		return err
	}
	r.say("producer ready (pid %d), metrics on http://%s/metrics, topic %s", pr.Pid(), r.cfg.ProducerMetricsAddr, r.cfg.Topic)
	return nil
}

func (r *runner) startDevstack(ctx context.Context) error {
	kport, rport := r.cfg.KafkaPort, r.cfg.RegistryPort
	// A service supplied from outside does not need the devstack's port.
	if r.cfg.KafkaBrokers != "" {
		kport = 0
	}
	if r.cfg.RegistryURL != "" {
		rport = 0
	}
	ready := make(chan string, 1)
	p, err := r.start("devstack", "devstack",
		// No data dir, whatever DATA_DIR says: a fresh broker keeps the
		// check exact.
		[]string{"--kafka-port", strconv.Itoa(kport), "--registry-port", strconv.Itoa(rport), "--data-dir", ""},
		func(line string) {
			if strings.HasPrefix(line, "devstack ready ") {
				select {
				case ready <- line:
				default:
				}
			}
		}, nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.StartTimeout)
	defer cancel()
	var line string
	select {
	case line = <-ready:
	case <-p.Done():
		return r.failed(p, fmt.Errorf("exited during start-up: %v", p.Err()))
	case <-ctx.Done():
		return r.failed(p, fmt.Errorf("no ready line within %s: %w", r.cfg.StartTimeout, ctx.Err()))
	}
	kafka, registry := field(line, "kafka"), field(line, "registry")
	if kafka == "" || registry == "" {
		return r.failed(p, fmt.Errorf("unexpected ready line %q", line))
	}
	if r.kafka == "" {
		r.kafka = kafka
	}
	if r.registry == "" {
		r.registry = registry
		r.say("%s", stack.CompatibilityWarning)
	}
	r.say("devstack ready (pid %d): kafka %s, schema registry %s", p.Pid(), r.kafka, r.registry)
	return nil
}

// field returns v from "... k=v ..." in line.
func field(line, k string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, k+"="); ok {
			return v
		}
	}
	return ""
}

// start starts bin/<bin> as a child named name, logging to LogDir/name.log.
func (r *runner) start(name, bin string, args []string, onStdout, onStderr func(string)) (*proc.Process, error) {
	env := []string{}
	if bin == "writer" {
		// The demo's own database; in the environment rather than argv so
		// its password does not show in ps.
		env = append(env, "DATABASE_URL="+r.demoURL)
	}
	p, err := proc.Start(proc.Spec{
		Name:     name,
		Path:     filepath.Join(r.cfg.BinDir, bin),
		Args:     args,
		Env:      env,
		LogPath:  filepath.Join(r.cfg.LogDir, name+".log"),
		OnStdout: onStdout,
		OnStderr: onStderr,
	})
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.procs = append(r.procs, p)
	r.mu.Unlock()
	return p, nil
}

// waitHealthy polls http://addr/healthz until it answers 200, the child
// exits, or the start timeout passes.
func (r *runner) waitHealthy(ctx context.Context, p *proc.Process, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.StartTimeout)
	defer cancel()
	url := "http://" + addr + "/healthz"
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := r.http.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Done():
			return r.failed(p, fmt.Errorf("exited during start-up: %v", p.Err()))
		case <-ctx.Done():
			return r.failed(p, fmt.Errorf("%s did not answer 200 within %s", url, r.cfg.StartTimeout))
		case <-tick.C:
		}
	}
}

// failed wraps err with p's log tail.
func (r *runner) failed(p *proc.Process, err error) error {
	return &ServiceError{Service: p.Spec.Name, LogPath: p.Spec.LogPath, Tail: p.Tail(), Err: err}
}

// stopAll stops whatever still runs, newest first: the last line of
// defence of Run (the kernel's PDEATHSIG is the one after it).
func (r *runner) stopAll() {
	r.mu.Lock()
	procs := append([]*proc.Process(nil), r.procs...)
	r.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		_, _ = procs[i].Stop(10 * time.Second)
	}
}

func (r *runner) proc(name string) *proc.Process {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.procs {
		if p.Spec.Name == name {
			return p
		}
	}
	return nil
}

func (r *runner) say(format string, args ...any) {
	r.out.printf(format+"\n", args...)
}

func rateText(rate int) string {
	if rate == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d events/s", rate)
}

func durationText(d time.Duration) string {
	if d == 0 {
		return "until Ctrl-C"
	}
	return "for " + d.String()
}

// syncWriter serialises output from the progress loop and callbacks.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format, args...)
}

// connect opens the demo database.
func (r *runner) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, r.demoURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the demo database: %w", err)
	}
	return conn, nil
}
