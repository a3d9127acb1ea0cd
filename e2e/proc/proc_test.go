package proc

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func start(t *testing.T, script string) *Process {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(Spec{Name: "sh", Path: sh, Args: []string{"-c", script}, LogPath: filepath.Join(t.TempDir(), "sh.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// waitFor polls cond; the deadline only bounds a broken test, it asserts nothing about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func TestKillTakesTheWholeGroup(t *testing.T) {
	// The grandchild prints its pid; it must die with its parent.
	p := start(t, `sleep 300 & echo $!; wait`)
	waitFor(t, "grandchild pid", func() bool { return p.LastLine() != "" })
	pid, err := strconv.Atoi(p.LastLine())
	if err != nil {
		t.Fatalf("grandchild pid line %q: %v", p.LastLine(), err)
	}
	if !alive(pid) {
		t.Fatalf("grandchild %d not running before the kill", pid)
	}
	p.Kill()
	if !p.Exited() {
		t.Fatal("Kill returned before the child exited")
	}
	var ee *exec.ExitError
	if err := p.Err(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("exit = %v, want killed by SIGKILL", err)
	}
	// The grandchild is reparented to init, which reaps it soon after.
	waitFor(t, "grandchild to die", func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return err != nil || strings.Contains(string(b), ") Z ")
	})
}

func TestStopIsGracefulWhenTheChildHandlesSIGTERM(t *testing.T) {
	p := start(t, `trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 0.05; done`)
	waitFor(t, "ready", func() bool { return p.LastLine() == "ready" })
	graceful, err := p.Stop(10 * time.Second)
	if !graceful || err != nil {
		t.Fatalf("Stop = %v, %v; want graceful exit 0", graceful, err)
	}
	if p.LastLine() != "bye" {
		t.Fatalf("last line %q, want bye", p.LastLine())
	}
	log := Tail(p.Spec.LogPath, 3)
	if !strings.Contains(log, "bye") || !strings.Contains(log, "exit: status 0") {
		t.Fatalf("log tail does not show the exit:\n%s", log)
	}
}

func TestStopKillsAChildThatIgnoresSIGTERM(t *testing.T) {
	p := start(t, `trap '' TERM; echo ready; while :; do sleep 0.05; done`)
	waitFor(t, "ready", func() bool { return p.LastLine() == "ready" })
	graceful, err := p.Stop(200 * time.Millisecond)
	if graceful || err == nil {
		t.Fatalf("Stop = %v, %v; want a forced kill", graceful, err)
	}
}

func TestTailKeepsTheLastLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	if err := os.WriteFile(path, []byte("a\nb\nc\nd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Tail(path, 2); got != "c\nd" {
		t.Fatalf("Tail = %q", got)
	}
	if got := Tail(filepath.Join(t.TempDir(), "missing"), 2); got != "" {
		t.Fatalf("Tail of a missing file = %q", got)
	}
}
