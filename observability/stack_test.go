package observability

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/finflow/finflow/services/kit/pgtest"
)

// The stack the real-Prometheus test runs: the devstack binary (kfake +
// srfake), two writer replicas on a fresh pgtest database, a producer at
// 200 events/s, and Debian's prometheus scraping them every second with
// the alert rules loaded.
type liveStack struct {
	prom      promAPI
	procs     []*process
	rules     int // rules in alerts.yml
	dashboard map[string]*dashboard
}

const (
	producerRate = "200"
	// Grafana's $__rate_interval is at least four scrape intervals; with
	// 1s scrapes, 15s leaves room for a late scrape.
	rateInterval = "15s"
)

// grafanaValues are what the tests substitute for Grafana's own variables.
var grafanaValues = map[string]string{
	"__rate_interval": rateInterval, "__interval": "5s", "__interval_ms": "5000",
	"__range": "5m", "__range_s": "300", "__range_ms": "300000",
}

// prometheusConfig derives the test's configuration from prometheus.yml:
// same jobs, targets rewritten to the local ports, 1s scrapes, and the
// alert rules by absolute path. A job the test does not know fails it, so
// a new job in prometheus.yml gets a target here too.
func prometheusConfig(t *testing.T, targets map[string][]string) []byte {
	t.Helper()
	var cfg map[string]any
	loadYAML(t, rulesPath("prometheus.yml"), &cfg)
	global, _ := cfg["global"].(map[string]any)
	if global == nil {
		global = map[string]any{}
		cfg["global"] = global
	}
	global["scrape_interval"] = "1s"
	global["scrape_timeout"] = "1s"
	global["evaluation_interval"] = "1s"
	rules, _ := cfg["rule_files"].([]any)
	if len(rules) == 0 {
		t.Fatal("prometheus.yml names no rule_files")
	}
	for i, r := range rules {
		rules[i] = filepath.Join(repoPath("observability", "prometheus"), r.(string))
	}
	jobs := map[string]bool{}
	scs, _ := cfg["scrape_configs"].([]any)
	for _, sc := range scs {
		m := sc.(map[string]any)
		job, _ := m["job_name"].(string)
		tg, ok := targets[job]
		if !ok {
			t.Fatalf("prometheus.yml job %q: the test has no local target for it", job)
		}
		jobs[job] = true
		for k := range m {
			if strings.HasSuffix(k, "_sd_configs") || k == "static_configs" {
				delete(m, k)
			}
		}
		m["static_configs"] = []any{map[string]any{"targets": tg}}
	}
	for _, want := range []string{"producer", "writer"} {
		if !jobs[want] {
			t.Fatalf("prometheus.yml has no job %q", want)
		}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func startLiveStack(t *testing.T) *liveStack {
	t.Helper()
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (%v): install it with `scripts/prometheus.sh ensure` (Debian package prometheus)", err)
	}
	producer, writer, devstack := binary(t, "producer"), binary(t, "writer"), binary(t, "devstack")
	dbURL := pgtest.New(t)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := &liveStack{}
	fail := func(format string, args ...any) {
		t.Helper()
		var b strings.Builder
		for _, p := range s.procs {
			fmt.Fprintf(&b, "\n----- %s (last 25 lines) -----\n%s", p.name, p.tail(25))
		}
		t.Fatalf(format+"%s", append(args, b.String())...)
	}

	ready := make(chan string, 1)
	ds := startProcess(t, "devstack", devstack, []string{"--kafka-port", "0", "--registry-port", "0"}, nil, func(line string) {
		if strings.HasPrefix(line, "devstack ready ") {
			select {
			case ready <- line:
			default:
			}
		}
	})
	s.procs = append(s.procs, ds)
	var kafka, registry string
	select {
	case line := <-ready:
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "kafka="); ok {
				kafka = v
			}
			if v, ok := strings.CutPrefix(f, "registry="); ok {
				registry = v
			}
		}
		if kafka == "" || registry == "" {
			fail("devstack ready line %q lacks kafka= or registry=", line)
		}
	case <-ds.done:
		fail("devstack exited before it was ready: %v", ds.err)
	case <-ctx.Done():
		fail("devstack was not ready within 2 minutes")
	}

	common := map[string]string{"KAFKA_BROKERS": kafka, "SCHEMA_REGISTRY_URL": registry}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range common {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	var writerAddrs []string
	for i := 1; i <= 2; i++ {
		addr := localAddr(freePort(t))
		writerAddrs = append(writerAddrs, addr)
		s.procs = append(s.procs, startProcess(t, fmt.Sprintf("writer-%d", i), writer, nil,
			with(map[string]string{"DATABASE_URL": dbURL, "METRICS_ADDR": addr}), nil))
	}
	producerAddr := localAddr(freePort(t))
	s.procs = append(s.procs, startProcess(t, "producer", producer, nil,
		with(map[string]string{"METRICS_ADDR": producerAddr, "RATE": producerRate}), nil))
	for i, addr := range append(slices.Clone(writerAddrs), producerAddr) {
		if err := waitHTTP(ctx, "http://"+addr+"/metrics", s.procs[1+i]); err != nil {
			fail("%v", err)
		}
	}

	promAddr := localAddr(freePort(t))
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	cfg := prometheusConfig(t, map[string][]string{
		"producer": {producerAddr}, "writer": writerAddrs, "prometheus": {promAddr},
	})
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	prom := startProcess(t, "prometheus", promBin, []string{
		"--config.file=" + cfgPath,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=1h",
		"--web.listen-address=" + promAddr,
		"--log.level=warn",
	}, nil, nil)
	s.procs = append(s.procs, prom)
	if err := waitHTTP(ctx, "http://"+promAddr+"/-/ready", prom); err != nil {
		fail("prometheus did not start: %v\nconfig:\n%s", err, cfg)
	}
	s.prom = promAPI{base: "http://" + promAddr}

	// Every target scraped successfully.
	for {
		ts, err := s.prom.targets(ctx)
		up := 0
		var states []string
		for _, tg := range ts {
			states = append(states, fmt.Sprintf("%s %s=%s %s", tg.Labels["job"], tg.ScrapeURL, tg.Health, tg.LastError))
			if tg.Health == "up" {
				up++
			}
		}
		if err == nil && up == len(writerAddrs)+2 {
			break
		}
		for _, p := range s.procs {
			if done, err := p.exited(); done {
				fail("%s exited: %v", p.name, err)
			}
		}
		select {
		case <-ctx.Done():
			fail("targets not all up within 2 minutes (%v): %v", err, states)
		case <-time.After(500 * time.Millisecond):
		}
	}
	return s
}

// checkQueries evaluates every query until each passes, or the deadline. A
// query that does not parse fails at once; one without data (yet) is
// retried, since rates and quantiles need a few scrapes.
func checkQueries(ctx context.Context, c promAPI, qs []query, vars map[string]string, needData bool, deadline time.Time) map[query]string {
	problems := map[query]string{}
	pending := map[query]string{}
	for _, q := range qs {
		expr, err := substituteVars(q.Expr, vars)
		if err != nil {
			problems[q] = err.Error()
			continue
		}
		pending[q] = expr
	}
	for {
		for q, expr := range pending {
			p, final := evaluateQuery(ctx, c, expr, needData)
			switch {
			case p == "":
				delete(pending, q)
				delete(problems, q)
			case final:
				delete(pending, q)
				problems[q] = p
			default:
				problems[q] = p
			}
		}
		if len(pending) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return problems
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func dashboardVars(d *dashboard) map[string]string {
	vars := map[string]string{}
	for k, v := range grafanaValues {
		vars[k] = v
	}
	for _, v := range d.Templating.List {
		if v.IncludeAll && v.AllValue != "" {
			vars[v.Name] = v.AllValue
		}
	}
	return vars
}

func formatProblems(problems map[query]string) string {
	var lines []string
	for q, p := range problems {
		lines = append(lines, fmt.Sprintf("  panel %q %s: %s\n      %s", q.Panel, q.RefID, p, q.Expr))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestDashboardsAgainstPrometheus is the check that a dashboard or rule
// cannot drift from the code: every panel query of every dashboard must
// parse and return data from a real Prometheus scraping the real services,
// every alert expression must parse and evaluate, and every metric of the
// README reference must be exported.
func TestDashboardsAgainstPrometheus(t *testing.T) {
	s := startLiveStack(t)
	ctx := t.Context()
	deadline := time.Now().Add(90 * time.Second)

	t.Run("panel queries", func(t *testing.T) {
		for _, f := range dashboardFiles(t) {
			d := loadDashboard(t, f)
			qs := d.queries()
			problems := checkQueries(ctx, s.prom, qs, dashboardVars(d), true, deadline)
			if len(problems) > 0 {
				t.Errorf("%s: %d of %d panel queries fail against Prometheus:\n%s", filepath.Base(f), len(problems), len(qs), formatProblems(problems))
			} else {
				t.Logf("%s: all %d panel queries parse and return data", filepath.Base(f), len(qs))
			}
			for _, v := range d.Templating.List {
				m := labelValuesQuery.FindStringSubmatch(v.Definition)
				if m == nil {
					continue
				}
				vals, err := s.prom.labelValues(ctx, m[2], m[1])
				if err != nil || len(vals) == 0 {
					t.Errorf("%s: variable $%s (%s) has no values (%v)", filepath.Base(f), v.Name, v.Definition, err)
				}
			}
		}
	})

	t.Run("alert expressions", func(t *testing.T) {
		var rf ruleFile
		loadYAML(t, rulesPath("alerts.yml"), &rf)
		var qs []query
		for _, r := range rf.rules() {
			qs = append(qs, query{Panel: r.Alert, RefID: "expr", Expr: r.Expr})
		}
		if problems := checkQueries(ctx, s.prom, qs, nil, false, deadline); len(problems) > 0 {
			t.Errorf("alert expressions fail against Prometheus:\n%s", formatProblems(problems))
		}
		// Prometheus loaded the same rules and evaluates them without error.
		for {
			states, err := s.prom.rules(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var unknown, bad []string
			for _, r := range states {
				switch r.Health {
				case "ok":
				case "unknown":
					unknown = append(unknown, r.Name)
				default:
					bad = append(bad, fmt.Sprintf("%s: %s %s", r.Name, r.Health, r.LastError))
				}
			}
			if len(bad) > 0 {
				t.Fatalf("rules evaluated with errors: %v", bad)
			}
			if len(states) != len(rf.rules()) {
				t.Fatalf("prometheus loaded %d rules, alerts.yml has %d", len(states), len(rf.rules()))
			}
			if len(unknown) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rules never evaluated: %v", unknown)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})

	t.Run("metrics reference exported", func(t *testing.T) {
		ref := loadReference(t)
		names, err := s.prom.labelValues(ctx, "__name__", "")
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, n := range names {
			have[n] = true
		}
		var missing []string
		for name, typ := range ref {
			series := name
			if typ == "histogram" {
				series = name + "_bucket"
			}
			if !have[series] {
				missing = append(missing, fmt.Sprintf("%s (%s)", name, typ))
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			t.Errorf("README metrics not exported by the running producer/writer (a series exists only once a labelled counter is touched or pre-created):\n  %s", strings.Join(missing, "\n  "))
		}
		for _, prefix := range []string{"go_goroutines", "process_resident_memory_bytes"} {
			if !have[prefix] {
				t.Errorf("%s not exported", prefix)
			}
		}
	})

	// The check itself must be able to fail: a renamed metric and a broken
	// query, in a copy of a real panel query, are both reported.
	t.Run("check catches drift", func(t *testing.T) {
		d := loadDashboard(t, repoPath("observability", "grafana", "dashboards", "finflow-pipeline.json"))
		p := panelUsing(d, "finflow_writer_rows_written_total")
		var orig string
		for _, tg := range p.Targets {
			if strings.Contains(tg.Expr, "finflow_writer_rows_written_total") {
				orig = tg.Expr
			}
		}
		renamed := query{Panel: p.Title + " (metric renamed)", RefID: "X",
			Expr: strings.ReplaceAll(orig, "finflow_writer_rows_written_total", "finflow_writer_rows_total")}
		broken := query{Panel: p.Title + " (unbalanced)", RefID: "Y", Expr: strings.TrimSuffix(orig, ")")}
		problems := checkQueries(ctx, s.prom, []query{renamed, broken}, dashboardVars(d), true, time.Now().Add(3*time.Second))
		if !strings.Contains(problems[renamed], "no data") {
			t.Errorf("a query on a renamed metric was not reported as empty: %q", problems[renamed])
		}
		if !strings.Contains(problems[broken], "does not parse") {
			t.Errorf("an unbalanced query was not reported as unparsable: %q", problems[broken])
		}
		t.Logf("reported as expected:\n%s", formatProblems(problems))
	})
}
