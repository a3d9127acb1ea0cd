package observability

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// There is no Docker engine on these machines, so the Dockerfiles are
// checked statically and their build stage is replayed on the host: the
// build context filtered by .dockerignore, the COPYs and RUNs of the build
// stage, and the resulting binary checked to be static and to run.

type dockerStage struct {
	From, Name string
	Instrs     []dockerInstr
}

type dockerInstr struct {
	Cmd  string // upper case
	Args string
}

// parseDockerfile splits a Dockerfile into stages of instructions, joining
// continuation lines and dropping comments.
func parseDockerfile(text string) ([]dockerStage, error) {
	var stages []dockerStage
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasPrefix(trimmed, "#") { // comment inside a continuation
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("dangling line continuation")
	}
	for _, l := range logical {
		cmd, args, _ := strings.Cut(l, " ")
		cmd = strings.ToUpper(cmd)
		args = strings.TrimSpace(args)
		if cmd == "FROM" {
			f := strings.Fields(args)
			st := dockerStage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			return nil, fmt.Errorf("%s before FROM", cmd)
		}
		stages[len(stages)-1].Instrs = append(stages[len(stages)-1].Instrs, dockerInstr{cmd, args})
	}
	return stages, nil
}

// checkDockerfile returns every way the Dockerfile of service svc breaks
// the rules: multi-stage, pinned bases, a static CGO_ENABLED=0 build of
// ./services/<svc>/cmd/<svc>, a non-root final stage running /<svc>.
func checkDockerfile(stages []dockerStage, svc string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(stages) < 2 {
		return []error{fmt.Errorf("not multi-stage (%d stages)", len(stages))}
	}
	names := map[string]bool{}
	for _, st := range stages {
		if !names[st.From] && st.From != "scratch" {
			if err := pinned(st.From); err != nil {
				fail("FROM: %v", err)
			}
		}
		names[st.Name] = true
	}
	build := strings.Join(func() []string {
		var runs []string
		for _, in := range stages[0].Instrs {
			if in.Cmd == "RUN" {
				runs = append(runs, in.Args)
			}
		}
		return runs
	}(), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "go build", "./services/" + svc + "/cmd/" + svc} {
		if !strings.Contains(build, want) {
			fail("build stage does not run %q", want)
		}
	}
	final := stages[len(stages)-1]
	user, entry := "", ""
	for _, in := range final.Instrs {
		switch in.Cmd {
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			entry = in.Args
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		fail("final stage runs as %q: want a non-root USER", user)
	}
	if entry != fmt.Sprintf(`["/%s"]`, svc) {
		fail(`ENTRYPOINT is %s, want ["/%s"]`, entry, svc)
	}
	return errs
}

func TestDockerfiles(t *testing.T) {
	for _, svc := range []string{"producer", "writer"} {
		t.Run(svc, func(t *testing.T) {
			stages, err := parseDockerfile(string(readFile(t, repoPath("services", svc, "Dockerfile"))))
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range checkDockerfile(stages, svc) {
				t.Error(err)
			}
			// The builder's Go is the one the workspace is built and tested with.
			goVersion := strings.TrimPrefix(runtime.Version(), "go")
			if tag := stages[0].From; !strings.HasPrefix(tag, "golang:"+goVersion) {
				t.Errorf("build stage is %s; the workspace is tested with Go %s (golang:%s...)", tag, goVersion, goVersion)
			}
		})
	}
}

func TestDockerfileCheckCatchesMistakes(t *testing.T) {
	original := string(readFile(t, repoPath("services", "writer", "Dockerfile")))
	for _, tc := range []struct{ name, old, new, want string }{
		{"unpinned base", "FROM gcr.io/distroless/static-debian12:nonroot", "FROM gcr.io/distroless/static-debian12", "is not pinned"},
		{"root user", "USER nonroot:nonroot", "USER root", "want a non-root USER"},
		{"cgo build", "CGO_ENABLED=0 ", "", `does not run "CGO_ENABLED=0"`},
		{"single stage", "FROM gcr.io/distroless/static-debian12:nonroot\nCOPY --from=build /out/writer /writer\n", "", "not multi-stage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(original, tc.old) {
				t.Fatalf("the Dockerfile no longer contains %q: update this case", tc.old)
			}
			stages, err := parseDockerfile(strings.Replace(original, tc.old, tc.new, 1))
			if err != nil {
				t.Fatal(err)
			}
			errs := checkDockerfile(stages, "writer")
			if !slices.ContainsFunc(errs, func(e error) bool { return strings.Contains(e.Error(), tc.want) }) {
				t.Fatalf("checker missed it: want %q, got %v", tc.want, errs)
			}
		})
	}
}

// dockerContext copies the repository into dir as docker build would send
// it: without what .dockerignore excludes.
func dockerContext(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Open(repoPath(".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	var exceptions []string
	for _, p := range pm.Patterns() {
		if p.Exclusion() {
			exceptions = append(exceptions, p.String())
		}
	}
	err = filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		excluded, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if d.IsDir() {
			// Walk into an excluded directory only if an exception may
			// re-include something inside it.
			if excluded && !slices.ContainsFunc(exceptions, func(e string) bool {
				return e == rel || strings.HasPrefix(e, rel+"/")
			}) {
				return filepath.SkipDir
			}
			return nil
		}
		if excluded || !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, filepath.Join(dir, rel))
	})
	if err != nil {
		t.Fatalf("build context: %v", err)
	}
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestDockerBuildStage replays each Dockerfile's build stage on the host.
// Container paths live under a temporary root; RUN's --mount flags (build
// caches) are dropped; the host's Go build cache stands in for them.
func TestDockerBuildStage(t *testing.T) {
	ctxDir := t.TempDir()
	dockerContext(t, ctxDir)
	for _, forbidden := range []string{".git", "observability", "bin"} {
		if _, err := os.Stat(filepath.Join(ctxDir, forbidden)); err == nil {
			t.Errorf(".dockerignore lets %s into the build context", forbidden)
		}
	}
	mount := regexp.MustCompile(`--mount=\S+\s*`)
	output := regexp.MustCompile(`(-o\s+)(/\S+)`)
	for _, svc := range []string{"producer", "writer"} {
		t.Run(svc, func(t *testing.T) {
			stages, err := parseDockerfile(string(readFile(t, repoPath("services", svc, "Dockerfile"))))
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir() // the build stage's filesystem
			in := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
			wd := "/"
			for _, ins := range stages[0].Instrs {
				switch ins.Cmd {
				case "WORKDIR":
					wd = ins.Args
					if err := os.MkdirAll(in(wd), 0o755); err != nil {
						t.Fatal(err)
					}
				case "COPY":
					f := strings.Fields(ins.Args)
					dst := f[len(f)-1]
					if !strings.HasPrefix(dst, "/") {
						dst = wd + "/" + dst
					}
					for _, src := range f[:len(f)-1] {
						if err := copyTree(filepath.Join(ctxDir, filepath.FromSlash(src)), in(dst), strings.HasSuffix(dst, "/")); err != nil {
							t.Fatalf("COPY %s: %v (is it excluded by .dockerignore?)", ins.Args, err)
						}
					}
				case "RUN":
					script := mount.ReplaceAllString(ins.Args, "")
					script = output.ReplaceAllStringFunc(script, func(m string) string {
						sub := output.FindStringSubmatch(m)
						return sub[1] + in(sub[2])
					})
					ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
					cmd := exec.CommandContext(ctx, "sh", "-c", script)
					cmd.Dir = in(wd)
					cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOWORK=") })
					var out bytes.Buffer
					cmd.Stdout, cmd.Stderr = &out, &out
					err := cmd.Run()
					cancel()
					if err != nil {
						t.Fatalf("RUN %s: %v\n%s", ins.Args, err, out.String())
					}
				}
			}
			// The final stage copies the binary from the build stage.
			var from string
			for _, ins := range stages[len(stages)-1].Instrs {
				if ins.Cmd == "COPY" && strings.HasPrefix(ins.Args, "--from=") {
					from = strings.Fields(ins.Args)[1]
				}
			}
			if from == "" {
				t.Fatal("final stage copies nothing from the build stage")
			}
			bin := in(from)
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatalf("%s: %v", from, err)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("%s is dynamically linked: it will not run on distroless/static", from)
				}
			}
			f.Close()
			out, _ := exec.Command(bin, "-h").CombinedOutput()
			if len(envFromHelp(string(out))) == 0 {
				t.Errorf("%s -h printed no flags:\n%s", from, out)
			}
		})
	}
}

// copyTree copies a file or directory like Docker's COPY: a directory's
// contents go into dst; a file goes to dst, or into it when intoDir.
func copyTree(src, dst string, intoDir bool) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		if intoDir {
			dst = filepath.Join(dst, filepath.Base(src))
		}
		return copyFile(src, dst)
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		return copyFile(path, filepath.Join(dst, rel))
	})
}
