package observability

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"
	"go.yaml.in/yaml/v4"
)

// composeSpec is what docker-compose.yml is held to, derived from the rest
// of the repository (binaries, prometheus.yml, Grafana provisioning).
type composeSpec struct {
	// Stateful services: each needs a healthcheck.
	Stateful []string
	// One-shot services: waited for with service_completed_successfully.
	OneShot []string
	// Env, per finflow service: the environment variables it reads.
	Env map[string]map[string]bool
	// MetricsPort, per service Prometheus scrapes: the port prometheus.yml uses.
	MetricsPort map[string]string
	// MinReplicas, per service.
	MinReplicas map[string]int
	// Mounts that must exist: service → container path → repository path.
	Mounts map[string]map[string]string
}

// addressSettings default to 127.0.0.1, which inside a container is the
// container itself: a finflow service that reads one must be given it.
var addressSettings = []string{"KAFKA_BROKERS", "SCHEMA_REGISTRY_URL", "DATABASE_URL", "METRICS_ADDR"}

// loadCompose parses and validates a compose file the way docker compose
// does, with only the file's own ${VAR:-default}s (no host environment).
func loadCompose(ctx context.Context, content []byte) (*types.Project, error) {
	return loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  repoRoot,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(repoRoot, "docker-compose.yml"), Content: content}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("finflow", true) })
}

// pinned says whether an image reference names a fixed version: a digest,
// or a tag other than latest.
func pinned(image string) error {
	if image == "" {
		return fmt.Errorf("no image")
	}
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return fmt.Errorf("image %q: %v", image, err)
	}
	if _, ok := ref.(reference.Digested); ok {
		return nil
	}
	if tagged, ok := ref.(reference.Tagged); ok && tagged.Tag() != "latest" {
		return nil
	}
	return fmt.Errorf("image %q is not pinned (give a version tag other than latest, or a digest)", image)
}

// checkCompose returns every way p breaks spec.
func checkCompose(p *types.Project, spec composeSpec) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range p.Services {
			if !yield(n) {
				return
			}
		}
	}) {
		s := p.Services[name]
		if err := pinned(s.Image); err != nil {
			fail("service %s: %v", name, err)
		}
		healthy := s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0
		if slices.Contains(spec.Stateful, name) && !healthy {
			fail("service %s: stateful, but has no healthcheck", name)
		}
		if slices.Contains(spec.OneShot, name) && s.Restart != types.RestartPolicyNo && s.Restart != "" {
			fail("service %s: one-shot, but restart is %q", name, s.Restart)
		}
		for dep, d := range s.DependsOn {
			ds, ok := p.Services[dep]
			if !ok {
				fail("service %s: depends on unknown service %s", name, dep)
				continue
			}
			want := ""
			switch {
			case slices.Contains(spec.OneShot, dep):
				want = types.ServiceConditionCompletedSuccessfully
			case ds.HealthCheck != nil && !ds.HealthCheck.Disable:
				want = types.ServiceConditionHealthy
			}
			if want != "" && d.Condition != want {
				fail("service %s: depends_on %s with condition %q, want %q", name, dep, d.Condition, want)
			}
		}
		if n, ok := spec.MinReplicas[name]; ok && s.GetScale() < n {
			fail("service %s: %d replicas, want at least %d", name, s.GetScale(), n)
		}
		for target, source := range spec.Mounts[name] {
			if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
				return v.Type == types.VolumeTypeBind && v.Target == target && filepath.Clean(v.Source) == filepath.Clean(source)
			}) {
				fail("service %s: does not bind-mount %s at %s", name, source, target)
			}
		}

		accepted, finflow := spec.Env[name]
		if !finflow {
			continue
		}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range s.Environment {
				if !yield(k) {
					return
				}
			}
		}) {
			if !accepted[k] {
				fail("service %s: environment variable %s is not read by the service (not one of its flags)", name, k)
			}
		}
		for _, k := range addressSettings {
			if !accepted[k] {
				continue
			}
			v := s.Environment[k]
			switch {
			case v == nil || *v == "":
				fail("service %s: %s is not set; its default (127.0.0.1) is the container itself", name, k)
			case strings.Contains(*v, "127.0.0.1") || strings.Contains(*v, "localhost"):
				if k != "METRICS_ADDR" {
					fail("service %s: %s=%s points at the container itself", name, k, *v)
				}
			}
		}
		if port, ok := spec.MetricsPort[name]; ok {
			v := s.Environment["METRICS_ADDR"]
			if v == nil {
				continue // reported above
			}
			host, p, err := net.SplitHostPort(*v)
			switch {
			case err != nil:
				fail("service %s: METRICS_ADDR=%s is not host:port", name, *v)
			case host != "" && host != "0.0.0.0" && host != "::":
				fail("service %s: METRICS_ADDR=%s listens on one interface only; Prometheus scrapes it from another container (use 0.0.0.0)", name, *v)
			case p != port:
				fail("service %s: METRICS_ADDR port %s, but prometheus.yml scrapes port %s", name, p, port)
			}
		}
	}
	return errs
}

// helpFlag matches a flag line of Go's flag.PrintDefaults ("  -name type",
// or "  --name (ENV, default ...)"); usageFlag an option in a usage line
// ("usage: writer migrate [--database-url URL]").
var (
	helpFlag  = regexp.MustCompile(`(?m)^ {1,3}--?([a-zA-Z0-9][a-zA-Z0-9-]*)\b`)
	usageFlag = regexp.MustCompile(`\[--?([a-zA-Z0-9][a-zA-Z0-9-]*)\b`)
)

// envFromHelp turns a binary's -h output into the environment variables it
// reads: one per flag (services/kit/config.EnvName), plus PGPASSWORD where
// DATABASE_URL is read (the README documents it).
func envFromHelp(help string) map[string]bool {
	out := map[string]bool{}
	for _, m := range append(helpFlag.FindAllStringSubmatch(help, -1), usageFlag.FindAllStringSubmatch(help, -1)...) {
		out[strings.ToUpper(strings.ReplaceAll(m[1], "-", "_"))] = true
	}
	if out["DATABASE_URL"] {
		out["PGPASSWORD"] = true
	}
	return out
}

// serviceEnv runs `<binary> [command...] -h` for a compose service built
// from services/<name>/Dockerfile and returns the variables it reads.
func serviceEnv(t *testing.T, s types.ServiceConfig) (map[string]bool, bool) {
	t.Helper()
	if s.Build == nil {
		return nil, false
	}
	m := regexp.MustCompile(`^services/([a-z0-9-]+)/Dockerfile$`).FindStringSubmatch(filepath.ToSlash(s.Build.Dockerfile))
	if m == nil {
		t.Fatalf("service %s: build.dockerfile %q is not services/<binary>/Dockerfile", s.Name, s.Build.Dockerfile)
	}
	bin := binary(t, m[1])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append(slices.Clone([]string(s.Command)), "-h")
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // nothing from the test's environment
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // -h exits 0 or 2 depending on the binary; the output is what counts
	env := envFromHelp(out.String())
	if len(env) == 0 {
		t.Fatalf("%s %s printed no flags:\n%s", m[1], strings.Join(args, " "), out.String())
	}
	return env, true
}

// prometheusPorts reads the port prometheus.yml scrapes each job on.
func prometheusPorts(t *testing.T) map[string]string {
	t.Helper()
	var cfg promConfig
	loadYAML(t, rulesPath("prometheus.yml"), &cfg)
	out := map[string]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				if _, p, err := net.SplitHostPort(target); err == nil {
					out[sc.JobName] = p
				}
			}
		}
		for _, d := range sc.DNSSDConfigs {
			if d.Port != 0 {
				out[sc.JobName] = fmt.Sprint(d.Port)
			}
		}
	}
	return out
}

// promConfig is prometheus.yml, as far as the tests need it.
type promConfig struct {
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
		DNSSDConfigs []struct {
			Names []string `yaml:"names"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
}

// grafanaDashboardsPath is where the dashboard provider reads dashboards.
func grafanaDashboardsPath(t *testing.T) string {
	t.Helper()
	var f struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(readFile(t, repoPath("observability", "grafana", "provisioning", "dashboards", "finflow.yml")), &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Providers) == 0 || f.Providers[0].Options.Path == "" {
		t.Fatal("dashboard provisioning has no provider path")
	}
	return f.Providers[0].Options.Path
}

// composeSpecFor derives the spec from the repository and the binaries.
func composeSpecFor(t *testing.T, p *types.Project) composeSpec {
	t.Helper()
	spec := composeSpec{
		Stateful:    []string{"kafka", "schema-registry", "postgres"},
		OneShot:     []string{"migrate", "kafka-init"},
		Env:         map[string]map[string]bool{},
		MinReplicas: map[string]int{"writer": 2},
		Mounts: map[string]map[string]string{
			"prometheus": {"/etc/prometheus": repoPath("observability", "prometheus")},
			"grafana": {
				"/etc/grafana/provisioning": repoPath("observability", "grafana", "provisioning"),
				grafanaDashboardsPath(t):    repoPath("observability", "grafana", "dashboards"),
			},
		},
	}
	ports := prometheusPorts(t)
	spec.MetricsPort = map[string]string{"producer": ports["producer"], "writer": ports["writer"]}
	for _, want := range []string{"producer", "writer"} {
		if spec.MetricsPort[want] == "" {
			t.Fatalf("prometheus.yml has no port for job %s", want)
		}
	}
	for name, s := range p.Services {
		if env, ok := serviceEnv(t, s); ok {
			spec.Env[name] = env
		}
	}
	for _, want := range []string{"producer", "writer", "migrate"} {
		if spec.Env[want] == nil {
			t.Fatalf("docker-compose.yml has no service %s built from services/*/Dockerfile", want)
		}
	}
	return spec
}

func TestCompose(t *testing.T) {
	content := readFile(t, repoPath("docker-compose.yml"))
	p, err := loadCompose(t.Context(), content)
	if err != nil {
		t.Fatalf("docker-compose.yml is not a valid compose file: %v", err)
	}
	for _, want := range []string{"kafka", "schema-registry", "postgres", "migrate", "producer", "writer", "prometheus", "grafana"} {
		if _, ok := p.Services[want]; !ok {
			t.Errorf("docker-compose.yml has no service %s", want)
		}
	}
	spec := composeSpecFor(t, p)
	for _, err := range checkCompose(p, spec) {
		t.Error(err)
	}
	// The writer must get everything it cannot run without.
	for _, k := range []string{"KAFKA_BROKERS", "SCHEMA_REGISTRY_URL", "DATABASE_URL"} {
		if !spec.Env["writer"][k] {
			t.Errorf("writer -h does not list --%s", strings.ToLower(strings.ReplaceAll(k, "_", "-")))
		}
	}
}

// TestComposeCheckCatchesMistakes applies the same checks to broken copies
// of docker-compose.yml: each must be reported.
func TestComposeCheckCatchesMistakes(t *testing.T) {
	original := string(readFile(t, repoPath("docker-compose.yml")))
	good, err := loadCompose(t.Context(), []byte(original))
	if err != nil {
		t.Fatal(err)
	}
	spec := composeSpecFor(t, good)
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unpinned image", "image: postgres:17.6", "image: postgres", `image "postgres" is not pinned`},
		{"latest tag", "image: grafana/grafana:12.1.1", "image: grafana/grafana:latest", "is not pinned"},
		{"unknown environment variable", "      METRICS_ADDR: 0.0.0.0:9102\n", "      METRICS_ADDR: 0.0.0.0:9102\n      WRITER_TURBO: \"1\"\n",
			"service writer: environment variable WRITER_TURBO is not read"},
		{"missing database url", "x-database: &database\n  DATABASE_URL: postgres://${POSTGRES_USER:-finflow}@postgres:5432/${POSTGRES_DB:-finflow}?sslmode=disable\n",
			"x-database: &database\n", "service writer: DATABASE_URL is not set"},
		{"loopback broker", "KAFKA_BROKERS: kafka:19092", "KAFKA_BROKERS: 127.0.0.1:9092", "KAFKA_BROKERS=127.0.0.1:9092 points at the container itself"},
		{"metrics on loopback", "METRICS_ADDR: 0.0.0.0:9101", "METRICS_ADDR: 127.0.0.1:9101", "listens on one interface only"},
		{"metrics port differs from prometheus.yml", "METRICS_ADDR: 0.0.0.0:9102", "METRICS_ADDR: 0.0.0.0:9200", "prometheus.yml scrapes port 9102"},
		{"no healthcheck", "      test: [\"CMD-SHELL\", \"pg_isready", "      disable: true\n      test: [\"CMD-SHELL\", \"pg_isready",
			"service postgres: stateful, but has no healthcheck"},
		{"depends_on without condition", "    depends_on:\n      postgres:\n        condition: service_healthy\n    restart: \"no\"",
			"    depends_on:\n      - postgres\n    restart: \"no\"", `service migrate: depends_on postgres with condition "service_started", want "service_healthy"`},
		{"one replica", "      replicas: 2", "      replicas: 1", "service writer: 1 replicas"},
		{"dashboards not mounted", "./observability/grafana/dashboards:", "./observability/grafana/other:", "does not bind-mount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(original, tc.old) {
				t.Fatalf("docker-compose.yml no longer contains %q: update this case", tc.old)
			}
			p, err := loadCompose(t.Context(), []byte(strings.Replace(original, tc.old, tc.new, 1)))
			if err != nil {
				t.Fatalf("the broken copy does not load, so it proves nothing: %v", err)
			}
			errs := checkCompose(p, spec)
			if !slices.ContainsFunc(errs, func(e error) bool { return strings.Contains(e.Error(), tc.want) }) {
				t.Fatalf("checker missed it: want an error containing %q, got %v", tc.want, errs)
			}
		})
	}
	// Invalid compose files: the loader itself must refuse them.
	for _, bad := range []string{
		"services:\n  x:\n    imagee: a:1\n",                             // unknown key
		"services:\n  x:\n    image: a:1\n    depends_on: [ghost]\n",     // unknown service
		"services:\n  x:\n    image: a:1\n    ports: [\"not-a-port\"]\n", // bad port
	} {
		if _, err := loadCompose(t.Context(), []byte(bad)); err == nil {
			t.Errorf("an invalid compose file was accepted:\n%s", bad)
		}
	}
}

func TestEnvFromHelp(t *testing.T) {
	help := `usage: writer [run] [flags]   (--kafka-brokers ↔ KAFKA_BROKERS)
  -database-url string
    	PostgreSQL URL (default "postgres://finflow@127.0.0.1:5432/finflow")
  -kafka-brokers string
    	-- comma-separated host:port
  --batch-max-records (BATCH_MAX_RECORDS, default "10000")
    	records per batch
`
	got := envFromHelp(help)
	want := map[string]bool{"DATABASE_URL": true, "KAFKA_BROKERS": true, "BATCH_MAX_RECORDS": true, "PGPASSWORD": true}
	if !maps.Equal(got, want) {
		t.Errorf("envFromHelp = %v, want %v", got, want)
	}
	got = envFromHelp("usage: writer migrate [--database-url URL]   (or DATABASE_URL)\n")
	want = map[string]bool{"DATABASE_URL": true, "PGPASSWORD": true}
	if !maps.Equal(got, want) {
		t.Errorf("envFromHelp(migrate usage) = %v, want %v", got, want)
	}
}
