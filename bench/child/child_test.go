package child

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sh(t *testing.T, script string) *Process {
	t.Helper()
	p, err := Start(Spec{Name: "sh", Path: "/bin/sh", Args: []string{"-c", script}, Log: filepath.Join(t.TempDir(), "sh.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(time.Second) })
	return p
}

func TestWaitLineAndStop(t *testing.T) {
	p := sh(t, `echo starting; echo "ready kafka=127.0.0.1:1"; exec sleep 30`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	line, err := p.WaitLine(ctx, "ready ")
	if err != nil {
		t.Fatal(err)
	}
	if line != "ready kafka=127.0.0.1:1" {
		t.Errorf("line = %q", line)
	}
	// sleep dies of SIGTERM: that is an unclean exit and is reported.
	if err := p.Stop(5 * time.Second); err == nil {
		t.Error("a child killed by SIGTERM: want an exit error")
	}
	if p.PeakRSS() <= 0 {
		t.Errorf("peak RSS = %d, want > 0 (sampled or from rusage)", p.PeakRSS())
	}
	select {
	case <-p.Exited():
	default:
		t.Error("Exited not closed after Stop")
	}
}

func TestWaitLineFailsWhenTheChildExits(t *testing.T) {
	p := sh(t, `echo nope; exit 3`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := p.WaitLine(ctx, "ready")
	if !errors.Is(err, ErrExited) {
		t.Fatalf("err = %v, want ErrExited", err)
	}
	if err := p.Wait(ctx); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("Wait = %v, want exit status 3", err)
	}
}

func TestLinesLogAndMemoryOfAnExitedChild(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "c.log")
	// Hold ~64 MiB for a moment so the peak is well above the shell's own
	// footprint and a sample sees it.
	p, err := Start(Spec{Name: "alloc", Path: "/bin/sh", Log: log, SampleEvery: 20 * time.Millisecond,
		Args: []string{"-c", `x=$(head -c 67108864 /dev/zero | tr '\0' a); sleep 0.3; echo one; echo "totals produced=3"; echo err >&2`}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	lines := p.Lines()
	if len(lines) != 2 || lines[1] != "totals produced=3" {
		t.Errorf("lines = %q", lines)
	}
	if p.PeakRSS() < 64<<20 {
		t.Errorf("peak RSS = %d, want ≥ 64 MiB", p.PeakRSS())
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if tail := p.Tail(1); tail != "# alloc exited: exit status 0" {
		t.Errorf("Tail(1) = %q", tail)
	}
	for _, want := range []string{"$ /bin/sh -c", "one\n", "err\n", "exited: exit status 0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("log lacks %q:\n%s", want, b)
		}
	}
}

func TestEnvironmentIsScrubbed(t *testing.T) {
	t.Setenv("KAFKA_BROKERS", "elsewhere:9092")
	p, err := Start(Spec{Name: "env", Path: "/bin/sh", Args: []string{"-c", `echo "k=${KAFKA_BROKERS:-unset} x=$X"`},
		Env: []string{"X=1"}, Log: filepath.Join(t.TempDir(), "env.log")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	line, err := p.WaitLine(ctx, "k=")
	if err != nil {
		t.Fatal(err)
	}
	if line != "k=unset x=1" {
		t.Errorf("child saw %q, want KAFKA_BROKERS cleared and X set", line)
	}
}

func TestStartRejectsAMissingBinary(t *testing.T) {
	if _, err := Start(Spec{Name: "x", Path: "/nonexistent/bin", Log: filepath.Join(t.TempDir(), "x.log")}); err == nil {
		t.Error("missing binary: want an error")
	}
	if _, err := Start(Spec{Name: "x", Path: "/bin/true"}); err == nil {
		t.Error("no log path: want an error")
	}
}

// The child's peak must be its own: Linux's rusage maxrss would report this
// test process's peak for a tiny child.
func TestPeakIsTheChildsOwn(t *testing.T) {
	ballast := make([]byte, 256<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	p := sh(t, "sleep 0.3")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if p.PeakRSS() <= 0 || p.PeakRSS() > 64<<20 {
		t.Errorf("peak RSS of sh = %d MiB, want a few MiB (the harness holds %d MiB)", p.PeakRSS()>>20, len(ballast)>>20+int(ballast[0])-1)
	}
}
