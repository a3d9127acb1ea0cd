// Package proc runs programs as child processes that cannot outlive their
// parent: the demo runner's services (services/devstack) and the binaries
// under test in the end-to-end suite (e2e), which kills them -9 and restarts
// them at will.
//
// Each child leads its own process group, so a terminal's Ctrl-C reaches
// only the parent, which then stops its children in order, and a stop or
// kill reaches anything the child spawned. On Linux each child also gets
// PR_SET_PDEATHSIG=SIGKILL, so even a parent killed with -9 (or by
// `go test -timeout`) takes its children down. Stdout and stderr go, line by
// line, to a log file whose tail explains a failure.
//
// PDEATHSIG fires when the *thread* that forked the child exits, not when
// the process does, and the Go runtime may retire the thread of an ordinary
// goroutine, which would kill a healthy child early. So every child is
// forked from one spawner goroutine locked to its OS thread for the life of
// the process.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec says what to run.
type Spec struct {
	// Name labels the process in messages ("writer-1").
	Name string
	// Path and Args are the program and its arguments (without argv[0]).
	Path string
	Args []string
	// Env is added to the parent's environment (later entries win).
	Env []string
	// Dir is the working directory; "" is the parent's.
	Dir string
	// LogPath receives stdout and stderr, interleaved by whole lines. It is
	// appended to, so one file can hold every incarnation of a restarted
	// process. Required.
	LogPath string
	// Markers, if set, frames each incarnation in the log with a line
	// "===== <time> start: <path> <args>" and one "===== <time> exit: <status>".
	Markers bool
	// OnStdout, if set, sees every complete stdout line, in order, from one
	// goroutine. It must not block.
	OnStdout func(line string)
	// OnStderr, likewise, for stderr.
	OnStderr func(line string)
}

// Process is a started child.
type Process struct {
	// Spec is what it was started with.
	Spec Spec

	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit status, valid once done is closed

	mu       sync.Mutex // guards the log file's lines, tail and lastLine
	tail     []string   // the last tailLines lines of output
	lastLine string     // the last stdout line
}

// tailLines is how much of a child's output is kept in memory for errors.
const tailLines = 40

// Start starts the child. The caller must eventually Stop, Kill or Wait for
// it, so its log file is closed.
func Start(spec Spec) (*Process, error) {
	if spec.Name == "" || spec.Path == "" || spec.LogPath == "" {
		return nil, errors.New("proc: Name, Path and LogPath are required")
	}
	logf, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", spec.Name, err)
	}
	if spec.Markers {
		_, _ = fmt.Fprintf(logf, "===== %s start: %s %s\n", time.Now().Format(time.RFC3339Nano), spec.Path, strings.Join(spec.Args, " "))
	}
	p := &Process{Spec: spec, done: make(chan struct{})}
	lines := func(stdout bool, fn func(string)) *lineWriter {
		return &lineWriter{fn: func(line string) {
			p.mu.Lock()
			_, _ = fmt.Fprintln(logf, line)
			if p.tail = append(p.tail, line); len(p.tail) > tailLines {
				p.tail = p.tail[1:]
			}
			if stdout {
				p.lastLine = line
			}
			p.mu.Unlock()
			if fn != nil {
				fn(line)
			}
		}}
	}
	stdout, stderr := lines(true, spec.OnStdout), lines(false, spec.OnStderr)

	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = sysProcAttr()
	// If a grandchild keeps the pipes open after the child exits, stop
	// waiting for it after this long instead of hanging.
	cmd.WaitDelay = 2 * time.Second
	p.cmd = cmd

	if err := spawn(cmd); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start %s (%s): %w", spec.Name, spec.Path, err)
	}
	go func() {
		err := cmd.Wait()
		stdout.flush()
		stderr.flush()
		if spec.Markers {
			p.mu.Lock()
			_, _ = fmt.Fprintf(logf, "===== %s exit: %v\n", time.Now().Format(time.RFC3339Nano), exitText(err))
			p.mu.Unlock()
		}
		_ = logf.Close()
		p.err = err
		close(p.done)
	}()
	return p, nil
}

func exitText(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// spawnReq asks the spawner thread to start a command.
type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

var (
	spawnOnce sync.Once
	spawnCh   chan spawnReq
)

// spawn starts cmd from the one OS thread that lives as long as the process
// (see the package comment for why).
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must not be reused or retired
			for r := range spawnCh {
				r.err <- r.cmd.Start()
			}
		}()
	})
	r := spawnReq{cmd: cmd, err: make(chan error, 1)}
	spawnCh <- r
	return <-r.err
}

// Pid is the child's process id, which is also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the child has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the child exited (nil for status 0). It blocks until it has.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Wait waits for the child to exit or ctx to end; it returns the exit error
// or ctx.Err().
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop sends SIGTERM to the group and waits up to grace for the child to
// exit, then kills the group. It reports whether the child exited by itself
// in time, and its exit error. On an exited child it only sweeps the group.
func (p *Process) Stop(grace time.Duration) (graceful bool, err error) {
	if !p.Exited() {
		_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
		// A stopped child (Ctrl-Z, a debugger) acts on SIGTERM only once resumed.
		_ = syscall.Kill(-p.Pid(), syscall.SIGCONT)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		graceful = true
	case <-t.C:
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		<-p.done
	}
	// Anything the child left behind in its group goes too.
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	return graceful, p.err
}

// Kill is kill -9 of the whole group, without warning; it returns once the
// child is gone.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
}

// Tail is the last 40 lines of output (stdout and stderr) of this
// incarnation, oldest first.
func (p *Process) Tail() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tail...)
}

// LastLine is the last line the child wrote to stdout.
func (p *Process) LastLine() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastLine
}

// TailFile returns the last n lines of the file at path, joined by
// newlines ("" when unreadable). It serves any log, not only a child's.
func TailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	ring := make([]string, 0, n)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if len(ring) == n {
			ring = ring[1:]
		}
		ring = append(ring, sc.Text())
	}
	return strings.Join(ring, "\n")
}

// lineWriter calls fn for every complete line written to it.
type lineWriter struct {
	fn  func(string)
	buf []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(string(bytes.TrimRight(w.buf[:i], "\r")))
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}

// flush hands over a last line that had no newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.fn(string(w.buf))
		w.buf = nil
	}
}
