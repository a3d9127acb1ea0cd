package proc_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finflow/finflow/services/kit/proc"
)

// The test binary doubles as the child program: PROC_HELPER picks a role.
func TestMain(m *testing.M) {
	switch os.Getenv("PROC_HELPER") {
	case "":
		os.Exit(m.Run())
	case "serve": // ready line, then exit 0 on SIGTERM
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		fmt.Println("booting")
		fmt.Println("ready now")
		<-sig
		fmt.Println("totals produced=1")
		os.Exit(0)
	case "stubborn": // ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready now")
		time.Sleep(time.Hour) // not select{}: with no other goroutine that is a deadlock crash
	case "fail":
		for i := range 60 {
			fmt.Fprintf(os.Stderr, "line %d\n", i)
		}
		fmt.Fprint(os.Stderr, "listen on 127.0.0.1:9101: address already in use") // no newline
		os.Exit(3)
	case "parent": // starts a grandchild, reports its pid once it is up, waits to be killed
		// The grandchild must have written all it writes before we die, or
		// it dies of SIGPIPE rather than of what the test checks.
		ready := make(chan struct{}, 2)
		p, err := proc.Start(proc.Spec{Name: "grandchild", Path: os.Args[0], Env: []string{"PROC_HELPER=serve"},
			LogPath: os.Getenv("PROC_LOG"), OnStdout: func(string) { ready <- struct{}{} }})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		<-ready
		<-ready
		fmt.Println("grandchild", p.Pid())
		time.Sleep(time.Hour)
	}
}

func spec(t *testing.T, role string) proc.Spec {
	return proc.Spec{
		Name:    role,
		Path:    os.Args[0],
		Env:     []string{"PROC_HELPER=" + role},
		LogPath: filepath.Join(t.TempDir(), role+".log"),
	}
}

func TestReadyLineAndGracefulStop(t *testing.T) {
	ready := make(chan string, 10)
	var last string
	s := spec(t, "serve")
	s.OnStdout = func(line string) {
		last = line
		if strings.HasPrefix(line, "ready") {
			ready <- line
		}
	}
	p, err := proc.Start(s)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case <-p.Done():
		t.Fatalf("exited before its ready line: %v", p.Err())
	case <-time.After(20 * time.Second):
		p.Kill()
		t.Fatal("no ready line")
	}
	if pgid, err := syscall.Getpgid(p.Pid()); err != nil || pgid != p.Pid() {
		t.Errorf("child pgid %d (err %v), want its own group %d", pgid, err, p.Pid())
	}
	graceful, err := p.Stop(20 * time.Second)
	if !graceful || err != nil {
		t.Fatalf("Stop: graceful=%v err=%v, want a clean exit on SIGTERM", graceful, err)
	}
	if last != "totals produced=1" {
		t.Errorf("last stdout line %q, want the one printed on SIGTERM", last)
	}
	log, err := os.ReadFile(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := "booting\nready now\ntotals produced=1\n"; string(log) != want {
		t.Errorf("log %q, want %q", log, want)
	}
}

func TestFailureKeepsTheTail(t *testing.T) {
	p, err := proc.Start(spec(t, "fail"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = p.Wait(ctx)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit %v, want status 3", err)
	}
	tail := p.Tail()
	if len(tail) != 40 {
		t.Fatalf("tail has %d lines, want 40", len(tail))
	}
	if tail[0] != "line 21" || !strings.Contains(tail[39], "address already in use") {
		t.Errorf("tail runs %q … %q, want line 21 … the unterminated last line", tail[0], tail[39])
	}
}

func TestStopKillsAStubbornChild(t *testing.T) {
	ready := make(chan struct{}, 1)
	s := spec(t, "stubborn")
	s.OnStdout = func(string) { ready <- struct{}{} }
	p, err := proc.Start(s)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		p.Kill()
		t.Fatal("no ready line")
	}
	graceful, err := p.Stop(300 * time.Millisecond)
	if graceful {
		t.Fatal("a child that ignores SIGTERM stopped gracefully")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("exit %v, want killed by SIGKILL", err)
	}
}

// A parent killed with -9 has no chance to stop its children: the kernel
// must (PDEATHSIG), or they are orphans.
func TestNoOrphanWhenTheParentIsKilled(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PROC_HELPER=parent", "PROC_LOG="+filepath.Join(t.TempDir(), "grandchild.log"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		_ = cmd.Process.Kill()
		t.Fatalf("parent printed nothing: %v", sc.Err())
	}
	f := strings.Fields(sc.Text())
	if len(f) != 2 || f[0] != "grandchild" {
		_ = cmd.Process.Kill()
		t.Fatalf("parent said %q", sc.Text())
	}
	pid, _ := strconv.Atoi(f[1])
	if !alive(pid) {
		t.Fatalf("grandchild %d not running before the kill", pid)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d survived its parent's SIGKILL", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// start runs script under sh, with start and exit markers in its log.
func start(t *testing.T, script string) *proc.Process {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	p, err := proc.Start(proc.Spec{Name: "sh", Path: sh, Args: []string{"-c", script},
		LogPath: filepath.Join(t.TempDir(), "sh.log"), Markers: true})
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
	waitFor(t, "grandchild to die", func() bool { return !alive(pid) })
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
	log := proc.TailFile(p.Spec.LogPath, 3)
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

func TestTailFileKeepsTheLastLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	if err := os.WriteFile(path, []byte("a\nb\nc\nd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := proc.TailFile(path, 2); got != "c\nd" {
		t.Fatalf("TailFile = %q", got)
	}
	if got := proc.TailFile(filepath.Join(t.TempDir(), "missing"), 2); got != "" {
		t.Fatalf("TailFile of a missing file = %q", got)
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ..." — the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}
