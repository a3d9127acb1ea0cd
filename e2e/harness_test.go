//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/finflow/finflow/services/producer/publish"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/finflow/finflow/e2e/audit"
	"github.com/finflow/finflow/e2e/poison"
	"github.com/finflow/finflow/services/kit/proc"
)

// settings is the suite's configuration, from the environment (make e2e sets
// it); the defaults are the ports scripts/kafka.sh and scripts/registry.sh use.
type settings struct {
	root        string   // repository root (scripts/, proto/)
	binDir      string   // holds the producer and writer binaries
	brokers     []string // KAFKA_BROKERS
	registryURL string   // SCHEMA_REGISTRY_URL
	python      string   // interpreter of the venv with python/requirements.txt
	logDir      string   // every process's log, kept after the run
	records     int      // E2E_RECORDS: how many records the producer sends
	rate        int      // E2E_RATE: producer --rate (0 = unlimited)
	wavePerKind int      // poison records of each kind per injection wave
	produceMax  time.Duration
	drainMax    time.Duration
	stopGrace   time.Duration // E2E_STOP_GRACE: how long a writer gets to exit 0 on SIGTERM
	keep        bool          // E2E_KEEP=1: keep the topic, subjects and group afterwards
}

func loadSettings(t *testing.T) settings {
	t.Helper()
	env := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	num := func(name string, def int) int {
		v := env(name, strconv.Itoa(def))
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("%s=%q: want a non-negative integer", name, v)
		}
		return n
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := env(name, def.String())
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a positive Go duration", name, v)
		}
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(env("FINFLOW_ROOT", filepath.Join(wd, "..")))
	if err != nil {
		t.Fatal(err)
	}
	s := settings{
		root:        root,
		binDir:      env("E2E_BIN_DIR", filepath.Join(root, "bin")),
		brokers:     strings.Split(env("KAFKA_BROKERS", "127.0.0.1:19092"), ","),
		registryURL: env("SCHEMA_REGISTRY_URL", "http://127.0.0.1:18081/apis/ccompat/v7"),
		python:      env("E2E_PYTHON", filepath.Join(root, ".cache", "e2e-venv", "bin", "python")),
		records:     num("E2E_RECORDS", 300_000),
		rate:        num("E2E_RATE", 50_000),
		wavePerKind: num("E2E_POISON_PER_KIND", 2),
		produceMax:  dur("E2E_PRODUCE_TIMEOUT", 5*time.Minute),
		drainMax:    dur("E2E_DRAIN_TIMEOUT", 6*time.Minute),
		// Kubernetes' default terminationGracePeriodSeconds.
		stopGrace: dur("E2E_STOP_GRACE", 30*time.Second),
		keep:      os.Getenv("E2E_KEEP") == "1",
	}
	if s.records < 1 || s.wavePerKind < 1 {
		t.Fatalf("E2E_RECORDS and E2E_POISON_PER_KIND must be at least 1")
	}
	for _, f := range []string{filepath.Join(root, "scripts", "kafka.sh"), filepath.Join(root, "proto", "finflow", "v1", "transaction.proto")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("FINFLOW_ROOT=%s does not look like the repository: %v", root, err)
		}
	}
	for _, b := range []string{"producer", "writer"} {
		if _, err := os.Stat(filepath.Join(s.binDir, b)); err != nil {
			t.Fatalf("E2E_BIN_DIR=%s: no %s binary (make e2e builds it): %v", s.binDir, b, err)
		}
	}
	if _, err := os.Stat(s.python); err != nil {
		t.Fatalf("E2E_PYTHON=%s: %v (make e2e creates the venv from e2e/python/requirements.txt)", s.python, err)
	}
	s.logDir = os.Getenv("E2E_LOG_DIR")
	if s.logDir == "" {
		if s.logDir, err = os.MkdirTemp("", "finflow-e2e-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(s.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// stack holds the clients of the real components.
type stack struct {
	settings
	t   *testing.T
	kcl *kgo.Client
	adm *kadm.Client
	reg *sr.Client
	t0  time.Time

	mu       sync.Mutex
	timeline []string
}

// newStack connects to Kafka and the registry, failing with the fix when
// either is missing. PostgreSQL is checked by pgtest.
func newStack(t *testing.T, s settings) *stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kcl, err := kgo.NewClient(kgo.SeedBrokers(s.brokers...))
	if err != nil {
		t.Fatalf("KAFKA_BROKERS=%s: %v", strings.Join(s.brokers, ","), err)
	}
	t.Cleanup(kcl.Close)
	adm := kadm.NewClient(kcl)
	if _, err := adm.ListBrokers(ctx); err != nil {
		t.Fatalf("Kafka is not reachable at KAFKA_BROKERS=%s: %v (start it with scripts/kafka.sh start; make e2e does)", strings.Join(s.brokers, ","), err)
	}
	reg, err := sr.NewClient(sr.URLs(s.registryURL))
	if err != nil {
		t.Fatalf("SCHEMA_REGISTRY_URL=%s: %v", s.registryURL, err)
	}
	if _, err := reg.Subjects(ctx); err != nil {
		t.Fatalf("schema registry is not reachable at SCHEMA_REGISTRY_URL=%s: %v (start it with scripts/registry.sh start; make e2e does)", s.registryURL, err)
	}
	return &stack{settings: s, t: t, kcl: kcl, adm: adm, reg: reg, t0: time.Now()}
}

// event logs a step with the time since the start, and keeps it for the
// summary.
func (s *stack) event(format string, args ...any) {
	line := fmt.Sprintf("%7.1fs  %s", time.Since(s.t0).Seconds(), fmt.Sprintf(format, args...))
	s.mu.Lock()
	s.timeline = append(s.timeline, line)
	s.mu.Unlock()
	s.t.Log(line)
}

// script runs one of scripts/*.sh, logging its output into the log dir.
func (s *stack) script(ctx context.Context, name string, args ...string) error {
	logPath := filepath.Join(s.logDir, "scripts.log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "===== %s scripts/%s %s\n", time.Now().Format(time.RFC3339), name, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(s.root, "scripts", name)}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("scripts/%s %s: %w (log: %s)\n%s", name, strings.Join(args, " "), err, logPath, proc.TailFile(logPath, 15))
	}
	return nil
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// childEnv is the configuration every child gets through the environment
// (README: each flag has an environment variable of the same name), so that
// nothing from the caller's environment, like the admin DATABASE_URL, leaks in.
func (s *stack) childEnv(topic, dbURL string) []string {
	return []string{
		"KAFKA_BROKERS=" + strings.Join(s.brokers, ","),
		"SCHEMA_REGISTRY_URL=" + s.registryURL,
		"KAFKA_TOPIC=" + topic,
		"DATABASE_URL=" + dbURL,
	}
}

// ---- writers -----------------------------------------------------------------

// writer is one writer slot: a name, a metrics address kept across restarts,
// and the current incarnation.
type writer struct {
	name    string
	addr    string
	p       *proc.Process
	stopped bool // we stopped or killed it on purpose
	starts  int
}

// writers supervises the writer processes: a writer that exits when nobody
// asked it to is reported (with its log) and restarted, as an orchestrator
// would, so the run goes on and shows what else breaks.
type writers struct {
	s     *stack
	topic string
	group string
	dbURL string

	mu  sync.Mutex
	set map[string]*writer
	// unexpected lists writer exits nobody asked for.
	unexpected []string
	wg         sync.WaitGroup
}

func (s *stack) newWriters(topic, group, dbURL string) *writers {
	w := &writers{s: s, topic: topic, group: group, dbURL: dbURL, set: map[string]*writer{}}
	s.t.Cleanup(func() {
		w.mu.Lock()
		ws := slices.Collect(maps.Values(w.set))
		for _, x := range ws {
			x.stopped = true
		}
		w.mu.Unlock()
		for _, x := range ws {
			if x.p != nil {
				x.p.Kill()
			}
		}
		w.wg.Wait()
	})
	return w
}

func (w *writers) args(x *writer) []string {
	return []string{"run",
		"--kafka-brokers", strings.Join(w.s.brokers, ","),
		"--schema-registry-url", w.s.registryURL,
		"--database-url", w.dbURL,
		"--kafka-topic", w.topic,
		"--consumer-group", w.group,
		"--metrics-addr", x.addr,
	}
}

// start starts (or restarts) the writer called name.
func (w *writers) start(name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	x := w.set[name]
	if x == nil {
		x = &writer{name: name, addr: freeAddr(w.s.t)}
		w.set[name] = x
	}
	if x.p != nil && !x.p.Exited() {
		return fmt.Errorf("%s is already running", name)
	}
	p, err := proc.Start(proc.Spec{
		Name: name, Path: filepath.Join(w.s.binDir, "writer"), Args: w.args(x),
		Env: append(w.s.childEnv(w.topic, w.dbURL), "METRICS_ADDR="+x.addr), LogPath: filepath.Join(w.s.logDir, name+".log"), Markers: true,
	})
	if err != nil {
		return err
	}
	x.p, x.stopped = p, false
	x.starts++
	w.wg.Add(1)
	go w.supervise(x, p)
	return nil
}

func (w *writers) supervise(x *writer, p *proc.Process) {
	defer w.wg.Done()
	<-p.Done()
	w.mu.Lock()
	if x.stopped || x.p != p {
		w.mu.Unlock()
		return
	}
	msg := fmt.Sprintf("%s (pid %d) exited on its own: %v; log %s:\n%s", x.name, p.Pid(), p.Err(), p.Spec.LogPath, proc.TailFile(p.Spec.LogPath, 30))
	w.unexpected = append(w.unexpected, msg)
	w.mu.Unlock()
	w.s.event("UNEXPECTED: %s exited on its own (%v); restarting it in 2s", x.name, p.Err())
	time.Sleep(2 * time.Second)
	w.mu.Lock()
	again := !x.stopped && x.p == p
	w.mu.Unlock()
	if again {
		if err := w.start(x.name); err != nil {
			w.s.event("restart %s: %v", x.name, err)
		}
	}
}

// kill is kill -9 of the writer's process group.
func (w *writers) kill(name string) {
	w.mu.Lock()
	x := w.set[name]
	x.stopped = true
	p := x.p
	w.mu.Unlock()
	p.Kill()
	w.s.event("kill -9 %s (pid %d)", name, p.Pid())
}

// stop sends SIGTERM and waits; it reports a writer that does not exit 0 in
// time (graceful shutdown: finish the batch, commit, leave the group).
func (w *writers) stop(name string, grace time.Duration) error {
	w.mu.Lock()
	x := w.set[name]
	x.stopped = true
	p := x.p
	w.mu.Unlock()
	t0 := time.Now()
	graceful, err := p.Stop(grace)
	w.s.event("SIGTERM %s (pid %d): exited in %.1fs, graceful=%v, status %v", name, p.Pid(), time.Since(t0).Seconds(), graceful, err)
	if !graceful || err != nil {
		return fmt.Errorf("%s did not shut down cleanly on SIGTERM within %s (graceful=%v, exit %v); log %s:\n%s",
			name, grace, graceful, err, p.Spec.LogPath, proc.TailFile(p.Spec.LogPath, 30))
	}
	return nil
}

func (w *writers) running() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for name, x := range w.set {
		if x.p != nil && !x.p.Exited() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (w *writers) unexpectedExits() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.unexpected)
}

// waitHealthy polls the writer's /healthz until it answers 200.
func (w *writers) waitHealthy(ctx context.Context, name string) error {
	w.mu.Lock()
	addr := w.set[name].addr
	w.mu.Unlock()
	return poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		return httpOK(ctx, "http://"+addr+"/healthz"), nil
	})
}

// metrics returns the finflow_writer_* samples (no histogram buckets) of a
// running writer's /metrics, for the log.
func (w *writers) metrics(ctx context.Context, name string) string {
	w.mu.Lock()
	addr := w.set[name].addr
	w.mu.Unlock()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var keep []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "finflow_writer_") && !strings.Contains(l, "_bucket{") &&
			!strings.HasPrefix(l, "finflow_writer_checkpoint_offset") && !strings.HasPrefix(l, "finflow_writer_checkpoint_age") &&
			!strings.HasPrefix(l, "finflow_writer_consumer_lag") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// assigned is the writer's finflow_writer_assigned_partitions gauge (-1
// when it cannot be read).
func (w *writers) assigned(ctx context.Context, name string) int {
	w.mu.Lock()
	addr := w.set[name].addr
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "finflow_writer_assigned_partitions "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return -1
			}
			return int(f)
		}
	}
	return -1
}

func httpOK(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// poll calls cond every interval until it returns true, an error, or ctx ends.
func poll(ctx context.Context, interval time.Duration, cond func(context.Context) (bool, error)) error {
	for {
		ok, err := cond(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// ---- producer ----------------------------------------------------------------

// totals is the producer's last stdout line.
type totals struct {
	produced, failed, bytes int64
	elapsed                 time.Duration
}

func parseTotals(line string) (totals, error) {
	t, err := publish.ParseTotals(line)
	return totals{produced: t.Produced, failed: t.Failed, bytes: t.Bytes, elapsed: t.Elapsed}, err
}

func (s *stack) startProducer(topic string) (*proc.Process, error) {
	args := []string{
		"--kafka-brokers", strings.Join(s.brokers, ","),
		"--schema-registry-url", s.registryURL,
		"--kafka-topic", topic,
		"--metrics-addr", freeAddr(s.t),
		"--count", strconv.Itoa(s.records),
		"--rate", strconv.Itoa(s.rate),
		"--seed", "20250101",
		"--partitions", "6",
		"--replication-factor", "1",
	}
	p, err := proc.Start(proc.Spec{Name: "producer", Path: filepath.Join(s.binDir, "producer"), Args: args,
		Env: s.childEnv(topic, ""), LogPath: filepath.Join(s.logDir, "producer.log"), Markers: true})
	if err != nil {
		return nil, err
	}
	s.t.Cleanup(p.Kill)
	return p, nil
}

// ---- progress ------------------------------------------------------------------

// produced is the sum of the topic's end offsets.
func (s *stack) produced(ctx context.Context, topic string) (int64, error) {
	ends, err := audit.EndOffsets(ctx, s.adm, topic)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, e := range ends {
		sum += e
	}
	return sum, nil
}

// written is the sum of the group's checkpoints, on a fresh connection: the
// server may have just been restarted.
func written(ctx context.Context, dbURL, group, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	cps, err := audit.Checkpoints(ctx, conn, group, topic)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, c := range cps {
		sum += c
	}
	return sum, nil
}

// ---- poison --------------------------------------------------------------------

// injector produces poison records next to the producer's, round-robin over
// the partitions, and counts what the broker acknowledged.
type injector struct {
	s     *stack
	topic string
	ids   poison.IDs
	cl    *kgo.Client
	seq   int
	sent  map[poison.Kind]int
}

func (s *stack) newInjector(topic string, ids poison.IDs) (*injector, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.brokers...), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.DefaultProduceTopic(topic))
	if err != nil {
		return nil, err
	}
	s.t.Cleanup(cl.Close)
	return &injector{s: s, topic: topic, ids: ids, cl: cl, sent: map[poison.Kind]int{}}, nil
}

// wave injects perKind records of every kind.
func (in *injector) wave(ctx context.Context, perKind int) error {
	var recs []*kgo.Record
	for range perKind {
		for _, k := range poison.Kinds {
			r, err := poison.Record(k, in.topic, in.ids, in.seq)
			if err != nil {
				return err
			}
			in.seq++
			recs = append(recs, r)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var errs []error
	for _, res := range in.cl.ProduceSync(ctx, recs...) {
		if res.Err != nil {
			errs = append(errs, res.Err)
			continue
		}
		in.sent[poison.KindOf(res.Record.Headers)]++
	}
	in.s.event("injected %d poison records (%d of each of %d kinds)", len(recs)-len(errs), perKind, len(poison.Kinds))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("inject poison: %w", err)
	}
	return nil
}
