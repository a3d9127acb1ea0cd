package observability

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The binaries the tests run. `make test` runs `go test ./...` here without
// building bin/ first, so the tests build them into a temporary directory
// themselves, once per test binary; FINFLOW_BIN_DIR (set by `make obs-test`
// after `make build`) names a directory that already holds them.
var binaryNames = []string{"producer", "writer", "devstack"}

var bins struct {
	once sync.Once
	dir  string
	temp bool
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bins.temp {
		_ = os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// binary returns the path of a service binary, building them all on first
// use. A build failure fails the test with the compiler's output.
func binary(t *testing.T, name string) string {
	t.Helper()
	bins.once.Do(buildBinaries)
	if bins.err != nil {
		t.Fatal(bins.err)
	}
	p := filepath.Join(bins.dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("binary %s missing: %v", name, err)
	}
	return p
}

func buildBinaries() {
	if d := os.Getenv("FINFLOW_BIN_DIR"); d != "" {
		bins.dir = d
		for _, n := range binaryNames {
			if _, err := os.Stat(filepath.Join(d, n)); err != nil {
				bins.err = fmt.Errorf("FINFLOW_BIN_DIR=%s: %v (run `make build`, or unset it to let the tests build)", d, err)
				return
			}
		}
		return
	}
	dir, err := os.MkdirTemp("", "finflow-observability-bin-")
	if err != nil {
		bins.err = err
		return
	}
	bins.dir, bins.temp = dir, true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Static and path-free, as the Dockerfiles build them, so that
	// TestDockerBuildStage finds the compiled packages in the build cache.
	args := []string{"build", "-trimpath", "-o", dir + string(filepath.Separator)}
	for _, n := range binaryNames {
		args = append(args, "./services/"+n+"/cmd/"+n)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		bins.err = fmt.Errorf("build the service binaries (go %v in %s): %v\n%s", args, repoRoot, err, out.String())
	}
}
