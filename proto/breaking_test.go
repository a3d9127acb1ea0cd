package contract_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buf is the pinned buf binary the Makefile builds into .bin/ (built here
// from tools/go.mod when missing, so the test also runs on its own).
func buf(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, ".bin", "buf")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "-C", filepath.Join(root, "tools"), "build", "-o", bin, "github.com/bufbuild/buf/cmd/buf")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build pinned buf: %v\n%s", err, out)
	}
	return bin
}

// workspaceWith copies the repo's buf workspace into a temp dir with the
// contract text changed by edit.
func workspaceWith(t *testing.T, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := os.ReadFile("../buf.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "buf.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("finflow/v1/transaction.proto")
	if err != nil {
		t.Fatal(err)
	}
	changed := edit(string(src))
	if err := os.MkdirAll(filepath.Join(dir, "proto", "finflow", "v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "proto", "finflow", "v1", "transaction.proto"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The contract gate of `make lint`: buf breaking against the current
// contract accepts additive changes and rejects retyped or renumbered fields.
func TestBufBreakingGate(t *testing.T) {
	bin := buf(t)
	cases := []struct {
		name     string
		edit     func(string) string
		wantFail string // substring of buf's message; "" = must pass
	}{
		{"unchanged", func(s string) string { return s }, ""},
		{"new field", func(s string) string {
			return strings.Replace(s, "string merchant_id = 16;", "string merchant_id = 16;\n  string terminal_id = 17;", 1)
		}, ""},
		{"retyped field", func(s string) string {
			return strings.Replace(s, "int64 amount_minor = 8;", "string amount_minor = 8;", 1)
		}, `changed type from "int64" to "string"`},
		{"renumbered field", func(s string) string {
			return strings.Replace(s, "string currency = 9;", "string currency = 20;", 1)
		}, `Previously present field "9" with name "currency"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := workspaceWith(t, c.edit)
			src, _ := os.ReadFile(filepath.Join(dir, "proto", "finflow", "v1", "transaction.proto"))
			orig, _ := os.ReadFile("finflow/v1/transaction.proto")
			if c.name != "unchanged" && string(src) == string(orig) {
				t.Fatal("the edit did not change the contract: the test would prove nothing")
			}
			cmd := exec.Command(bin, "breaking", dir, "--against", "..")
			out, err := cmd.CombinedOutput()
			t.Logf("buf breaking (%s):\n%s", c.name, out)
			if c.wantFail == "" {
				if err != nil {
					t.Fatalf("buf breaking rejected a compatible change: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatal("buf breaking accepted an incompatible change")
			}
			if !strings.Contains(string(out), c.wantFail) {
				t.Fatalf("buf breaking failed without the expected message %q:\n%s", c.wantFail, out)
			}
		})
	}
}
