package observability

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func (f *ruleFile) rules() []rule {
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// ruleTests is promtool's unit-test file, as far as the checks need it.
type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string           `yaml:"eval_time"`
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func loadYAML(t *testing.T, path string, into any) {
	t.Helper()
	if err := yaml.Unmarshal(readFile(t, path), into); err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
}

func rulesPath(name string) string { return repoPath("observability", "prometheus", name) }

// checkRules returns every way the alert rules break the rules of the house:
// each alert has a severity and a summary, uses only metrics of the README
// reference, and has a promtool case where it fires and one where it does
// not.
func checkRules(rf *ruleFile, tests *ruleTests, ref map[string]string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	names := map[string]bool{}
	for _, r := range rf.rules() {
		name := r.Alert
		if name == "" {
			name = "record " + r.Record
		} else {
			if names[name] {
				fail("alert %s is defined twice", name)
			}
			names[name] = true
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				fail("alert %s: severity label %q is not critical or warning", name, s)
			}
			if r.Annotations["summary"] == "" {
				fail("alert %s: no summary annotation", name)
			}
			if !fires[name] {
				fail("alert %s: alerts_test.yml has no case where it fires", name)
			}
			if !quiet[name] {
				fail("alert %s: alerts_test.yml has no case where it must not fire", name)
			}
		}
		bad, err := unknownMetrics(ref, r.Expr)
		if err != nil {
			fail("%s: %v", name, err)
			continue
		}
		for _, m := range bad {
			fail("%s: metric %s is not in the README metrics reference", name, m)
		}
	}
	for n := range fires {
		if !names[n] {
			fail("alerts_test.yml tests alert %s, which alerts.yml does not define", n)
		}
	}
	return errs
}

func TestAlertRules(t *testing.T) {
	var rf ruleFile
	var tests ruleTests
	loadYAML(t, rulesPath("alerts.yml"), &rf)
	loadYAML(t, rulesPath("alerts_test.yml"), &tests)
	if len(rf.rules()) == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	// The alerts issue 6 asks for, by what they watch.
	for _, want := range []string{
		`up{job="writer"} == 0`, "finflow_writer_consumer_lag_records", "finflow_writer_consumer_lag_seconds",
		"finflow_writer_checkpoint_age_seconds", "finflow_writer_dead_letters_total", "finflow_producer_errors_total",
		"finflow_writer_db_errors_total", "finflow_writer_rebalances_total",
	} {
		if !slices.ContainsFunc(rf.rules(), func(r rule) bool { return strings.Contains(r.Expr, want) }) {
			t.Errorf("no alert rule watches %s", want)
		}
	}
	for _, err := range checkRules(&rf, &tests, loadReference(t)) {
		t.Error(err)
	}
}

func TestAlertRuleCheckCatchesMistakes(t *testing.T) {
	ref := loadReference(t)
	var rf ruleFile
	var tests ruleTests
	loadYAML(t, rulesPath("alerts.yml"), &rf)
	loadYAML(t, rulesPath("alerts_test.yml"), &tests)

	rf.Groups[0].Rules[0].Expr = `finflow_writer_up == 0`
	rf.Groups[0].Rules[1].Labels = nil
	name := rf.Groups[0].Rules[2].Alert
	for i := range tests.Tests {
		for j := range tests.Tests[i].AlertRuleTest {
			if a := &tests.Tests[i].AlertRuleTest[j]; a.Alertname == name && len(a.ExpAlerts) == 0 {
				a.Alertname = "Other"
			}
		}
	}
	got := fmt.Sprint(checkRules(&rf, &tests, ref))
	for _, want := range []string{
		"metric finflow_writer_up is not in the README",
		rf.Groups[0].Rules[1].Alert + `: severity label ""`,
		name + ": alerts_test.yml has no case where it must not fire",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("checker missed %q; reported: %s", want, got)
		}
	}
}

// promtool finds Debian's promtool; its absence fails the test with the fix.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): install it with `scripts/prometheus.sh ensure` (Debian package prometheus)", err)
	}
	return p
}

func runPromtool(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestPromtool(t *testing.T) {
	dir := repoPath("observability", "prometheus")
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"}, // also loads alerts.yml
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		out, err := runPromtool(t, dir, args...)
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestPromtoolCatchesBrokenRules runs the rule unit tests against broken
// copies of alerts.yml: each break must make promtool test rules fail on
// the alert it broke. This is what keeps alerts_test.yml honest.
func TestPromtoolCatchesBrokenRules(t *testing.T) {
	original := string(readFile(t, rulesPath("alerts.yml")))
	tests := readFile(t, rulesPath("alerts_test.yml"))
	for _, tc := range []struct {
		alert, old, new string
	}{
		// a threshold that can never be met: the firing case fails
		{"FinflowWriterDown", `up{job="writer"} == 0`, `up{job="writer"} == 2`},
		// no dedup of a partition reported by two replicas: the quiet case fails
		{"FinflowConsumerLagRecordsHigh",
			`sum by (topic) (max by (topic, partition) (finflow_writer_consumer_lag_records)) > 10000`,
			`sum by (topic) (finflow_writer_consumer_lag_records) > 10000`},
		// stale without requiring lag: the idle partition fires
		{"FinflowCheckpointStale", `and on (topic, partition)
          (max by (topic, partition) (finflow_writer_consumer_lag_records) > 0)`, ""},
		// no `for`: a burst of rebalances fires
		{"FinflowSustainedRebalancing", `> 10
        for: 15m`, `> 10`},
	} {
		t.Run(tc.alert, func(t *testing.T) {
			if !strings.Contains(original, tc.old) {
				t.Fatalf("alerts.yml no longer contains %q: update this mutation", tc.old)
			}
			dir := t.TempDir()
			broken := strings.Replace(original, tc.old, tc.new, 1)
			if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), []byte(broken), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "alerts_test.yml"), tests, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := runPromtool(t, dir, "check", "rules", "alerts.yml"); err != nil {
				t.Fatalf("the broken copy does not even load, so it proves nothing: %v\n%s", err, out)
			}
			out, err := runPromtool(t, dir, "test", "rules", "alerts_test.yml")
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("promtool test rules passed a broken %s (err %v):\n%s", tc.alert, err, out)
			}
			if !strings.Contains(out, "alertname: "+tc.alert) {
				t.Fatalf("promtool failed, but not on %s:\n%s", tc.alert, out)
			}
		})
	}
}
