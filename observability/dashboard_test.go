package observability

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// The Grafana JSON model, only as far as the checks need it.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []templateVar `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []target       `json:"targets"`
	Panels     []panel        `json:"panels"` // a collapsed row's panels
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
}

type target struct {
	RefID      string         `json:"refId"`
	Expr       string         `json:"expr"`
	Datasource *datasourceRef `json:"datasource"`
	Hide       bool           `json:"hide"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type templateVar struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Definition string         `json:"definition"`
	IncludeAll bool           `json:"includeAll"`
	AllValue   string         `json:"allValue"`
	Datasource *datasourceRef `json:"datasource"`
}

// grafanaBuiltins are the variables Grafana itself defines.
var grafanaBuiltins = map[string]bool{
	"__rate_interval": true, "__interval": true, "__interval_ms": true,
	"__range": true, "__range_s": true, "__range_ms": true,
}

// The rows the finflow pipeline dashboard must keep (issue 6).
var pipelineRows = []string{
	"Throughput", "Consumer lag", "Checkpoint health", "Batches and commit latency",
	"End-to-end latency", "Errors and rebalances", "Go runtime",
}

// flatPanels lists every panel, rows included, with a collapsed row's
// panels after it.
func (d *dashboard) flatPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// query is one panel target, for error messages and evaluation.
type query struct {
	Panel string
	RefID string
	Expr  string
}

func (d *dashboard) queries() []query {
	var out []query
	for _, p := range d.flatPanels() {
		for _, t := range p.Targets {
			if !t.Hide {
				out = append(out, query{Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
			}
		}
	}
	return out
}

// labelValuesQuery matches a Prometheus template variable query.
var labelValuesQuery = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

// checkDashboard returns every way d breaks the rules: panel ids unique,
// every panel with targets on the provisioned datasource, metric names from
// the README reference, variables defined, panels on the 24-column grid,
// and the rows in requiredRows present.
func checkDashboard(d *dashboard, ref map[string]string, datasourceUID string, requiredRows []string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if d.UID == "" || d.Title == "" {
		fail("dashboard has no uid or title")
	}
	defined := map[string]bool{}
	for k := range grafanaBuiltins {
		defined[k] = true
	}
	for _, v := range d.Templating.List {
		defined[v.Name] = true
		if v.Type != "query" {
			continue
		}
		if v.Datasource == nil || v.Datasource.UID != datasourceUID {
			fail("variable $%s: datasource is not uid %q", v.Name, datasourceUID)
		}
		m := labelValuesQuery.FindStringSubmatch(v.Definition)
		if m == nil {
			fail("variable $%s: query %q is not label_values(metric, label)", v.Name, v.Definition)
		} else if !knownMetric(ref, m[1]) {
			fail("variable $%s: metric %s is not in the README metrics reference", v.Name, m[1])
		}
	}
	ids := map[int]string{}
	rows := map[string]bool{}
	for _, p := range d.flatPanels() {
		name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID <= 0 {
			fail("%s: id must be positive", name)
		} else if other, dup := ids[p.ID]; dup {
			fail("%s: id %d is also used by %q", name, p.ID, other)
		}
		ids[p.ID] = p.Title
		if g := p.GridPos; g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			fail("%s: gridPos %+v is off the 24-column grid", name, g)
		}
		if p.Type == "row" {
			rows[p.Title] = true
			if len(p.Targets) > 0 {
				fail("%s: a row has no queries", name)
			}
			continue
		}
		if p.Title == "" {
			fail("%s: has no title", name)
		}
		if len(p.Targets) == 0 {
			fail("%s: has no targets", name)
		}
		refIDs := map[string]bool{}
		for _, t := range p.Targets {
			tname := fmt.Sprintf("%s target %s", name, t.RefID)
			if t.RefID == "" || refIDs[t.RefID] {
				fail("%s: refId empty or repeated", tname)
			}
			refIDs[t.RefID] = true
			ds := t.Datasource
			if ds == nil {
				ds = p.Datasource
			}
			if ds == nil || ds.UID != datasourceUID || ds.Type != "prometheus" {
				fail("%s: datasource is %+v, want the provisioned prometheus uid %q", tname, ds, datasourceUID)
			}
			if strings.TrimSpace(t.Expr) == "" {
				fail("%s: empty expr", tname)
				continue
			}
			metrics, vars, err := promqlRefs(t.Expr)
			if err != nil {
				fail("%s: %v", tname, err)
				continue
			}
			if len(metrics) == 0 {
				fail("%s: %q uses no metric", tname, t.Expr)
			}
			for _, m := range metrics {
				if !knownMetric(ref, m) {
					fail("%s: metric %s is not in the README metrics reference (nor go_*, process_*, finflow_kafka_*, up)", tname, m)
				}
			}
			for _, v := range vars {
				if !defined[v] {
					fail("%s: variable $%s is not defined in templating", tname, v)
				}
			}
		}
	}
	for _, r := range requiredRows {
		if !rows[r] {
			fail("row %q is missing", r)
		}
	}
	return errs
}

// provisionedDatasourceUID reads the uid of the Prometheus datasource that
// Grafana provisioning creates.
func provisionedDatasourceUID(t *testing.T) string {
	t.Helper()
	var f struct {
		Datasources []struct {
			UID, Type, URL string
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(readFile(t, repoPath("observability", "grafana", "provisioning", "datasources", "prometheus.yml")), &f); err != nil {
		t.Fatalf("datasource provisioning: %v", err)
	}
	for _, d := range f.Datasources {
		if d.Type == "prometheus" && d.UID != "" {
			return d.UID
		}
	}
	t.Fatal("datasource provisioning has no prometheus datasource with a uid")
	return ""
}

// dashboardFiles lists the committed dashboards.
func dashboardFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(repoPath("observability", "grafana", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in observability/grafana/dashboards (%v)", err)
	}
	return files
}

func parseDashboard(raw []byte) (*dashboard, error) {
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("not valid dashboard JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the dashboard object")
	}
	return &d, nil
}

func loadDashboard(t *testing.T, path string) *dashboard {
	t.Helper()
	d, err := parseDashboard(readFile(t, path))
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return d
}

func TestDashboards(t *testing.T) {
	ref := loadReference(t)
	uid := provisionedDatasourceUID(t)
	uids := map[string]string{}
	for _, f := range dashboardFiles(t) {
		d := loadDashboard(t, f)
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %q", filepath.Base(f), other, d.UID)
		}
		uids[d.UID] = filepath.Base(f)
		var rows []string
		if d.UID == "finflow-pipeline" {
			rows = pipelineRows
		}
		for _, err := range checkDashboard(d, ref, uid, rows) {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	if _, ok := uids["finflow-pipeline"]; !ok {
		t.Errorf("no dashboard with uid finflow-pipeline among %v", uids)
	}
}

// TestDashboardCheckCatchesMistakes feeds the checker broken copies of the
// real dashboard: each mistake must be reported.
func TestDashboardCheckCatchesMistakes(t *testing.T) {
	ref := loadReference(t)
	uid := provisionedDatasourceUID(t)
	raw := readFile(t, repoPath("observability", "grafana", "dashboards", "finflow-pipeline.json"))
	for _, tc := range []struct {
		name   string
		mutate func(d *dashboard)
		want   string
	}{
		{"renamed metric", func(d *dashboard) {
			p := panelUsing(d, "finflow_writer_rows_written_total")
			for i := range p.Targets {
				p.Targets[i].Expr = strings.ReplaceAll(p.Targets[i].Expr, "finflow_writer_rows_written_total", "finflow_writer_rows_total")
			}
		}, "is not in the README metrics reference"},
		{"duplicate panel id", func(d *dashboard) { d.Panels[2].ID = d.Panels[1].ID }, "is also used by"},
		{"panel without targets", func(d *dashboard) { firstQueryPanel(d).Targets = nil }, "has no targets"},
		{"other datasource", func(d *dashboard) {
			p := firstQueryPanel(d)
			p.Datasource = &datasourceRef{Type: "prometheus", UID: "elsewhere"}
			for i := range p.Targets {
				p.Targets[i].Datasource = nil
			}
		}, "want the provisioned prometheus uid"},
		{"undefined variable", func(d *dashboard) {
			p := panelUsing(d, "$__rate_interval")
			for i := range p.Targets {
				p.Targets[i].Expr = strings.ReplaceAll(p.Targets[i].Expr, "$__rate_interval", "$window")
			}
		}, "variable $window is not defined"},
		{"unbalanced query", func(d *dashboard) { p := firstQueryPanel(d); p.Targets[0].Expr += ")" }, "unbalanced"},
		{"missing row", func(d *dashboard) {
			for i := range d.Panels {
				if d.Panels[i].Title == "Go runtime" {
					d.Panels[i].Title = "Runtime"
				}
			}
		}, `row "Go runtime" is missing`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := parseDashboard(raw)
			if err != nil {
				t.Fatal(err)
			}
			if errs := checkDashboard(d, ref, uid, pipelineRows); len(errs) != 0 {
				t.Fatalf("the unbroken dashboard already fails: %v", errs)
			}
			tc.mutate(d)
			errs := checkDashboard(d, ref, uid, pipelineRows)
			if !slices.ContainsFunc(errs, func(e error) bool { return strings.Contains(e.Error(), tc.want) }) {
				t.Fatalf("checker missed the mistake: want an error containing %q, got %v", tc.want, errs)
			}
			t.Logf("reported as expected: %v", errs)
		})
	}
	if _, err := parseDashboard([]byte(`{"uid": "x", "panels": [`)); err == nil {
		t.Error("truncated JSON was accepted")
	}
}

// panelUsing returns the first panel with a query containing s.
func panelUsing(d *dashboard, s string) *panel {
	for i := range d.Panels {
		for _, t := range d.Panels[i].Targets {
			if strings.Contains(t.Expr, s) {
				return &d.Panels[i]
			}
		}
	}
	panic("no panel queries " + s)
}

func firstQueryPanel(d *dashboard) *panel {
	for i := range d.Panels {
		if d.Panels[i].Type != "row" && len(d.Panels[i].Targets) > 0 {
			return &d.Panels[i]
		}
	}
	panic("dashboard has no panel with targets")
}
