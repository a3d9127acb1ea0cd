// Package child runs the demo's services as child processes that cannot
// outlive the runner: each in its own process group (so the terminal's
// Ctrl-C reaches only the runner, which then stops them in order), with
// PR_SET_PDEATHSIG=SIGKILL on Linux (so even a runner killed with -9 takes
// them down), and with stdout and stderr kept in a log file whose tail
// explains a failure.
package child

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Spec says what to run.
type Spec struct {
	// Name labels the process in messages ("writer").
	Name string
	// Path and Args are the program and its arguments (without argv[0]).
	Path string
	Args []string
	// Env is added to the runner's environment (later entries win).
	Env []string
	// Dir is the working directory; "" is the runner's.
	Dir string
	// LogPath receives stdout and stderr, interleaved by line. Required.
	LogPath string
	// OnStdout, if set, sees every complete stdout line, in order, from one
	// goroutine. It must not block.
	OnStdout func(line string)
	// OnStderr, likewise, for stderr.
	OnStderr func(line string)
}

// Process is a started child.
type Process struct {
	Name    string
	LogPath string

	cmd  *exec.Cmd
	log  *os.File
	tail *ring
	done chan struct{}
	err  error // exit status, valid once done is closed
}

// tailLines is how much of a child's output is kept in memory for errors.
const tailLines = 40

// Start starts the child. The caller must eventually Stop it (or Wait for it
// to exit) so its log file is closed.
func Start(spec Spec) (*Process, error) {
	if spec.Name == "" || spec.Path == "" || spec.LogPath == "" {
		return nil, errors.New("child: Name, Path and LogPath are required")
	}
	logf, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", spec.Name, err)
	}
	p := &Process{Name: spec.Name, LogPath: spec.LogPath, log: logf, tail: newRing(tailLines), done: make(chan struct{})}
	var mu sync.Mutex // one line at a time into the log and the tail
	lines := func(fn func(string)) *lineWriter {
		return &lineWriter{fn: func(line string) {
			mu.Lock()
			_, _ = fmt.Fprintln(logf, line)
			p.tail.add(line)
			mu.Unlock()
			if fn != nil {
				fn(line)
			}
		}}
	}
	stdout, stderr := lines(spec.OnStdout), lines(spec.OnStderr)

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
		p.err = cmd.Wait()
		stdout.flush()
		stderr.flush()
		_ = logf.Close()
		close(p.done)
	}()
	return p, nil
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

// spawn starts cmd from one OS thread that lives as long as the runner.
// PDEATHSIG fires when the *thread* that forked the child exits, not the
// process; Go may retire threads, so forking from an arbitrary goroutine
// could kill a child early. A goroutine locked to its thread that never
// returns keeps that thread alive.
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

// Pid is the child's process id (also its process group id).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the child exited: nil for status 0. Valid after Done.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Signal sends sig to the child's whole process group.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := syscall.Kill(-p.Pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s: %w", p.Name, err)
	}
	return nil
}

// Wait waits for the child to exit or ctx to end.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop sends sig to the group and waits up to grace for the child to exit,
// then kills the group. It reports whether the child exited by itself and
// its exit error. Calling it on an exited child only sweeps its group.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) (graceful bool, err error) {
	_ = p.Signal(sig)
	// A stopped child (Ctrl-Z, a debugger) acts on sig only once resumed.
	_ = p.Signal(syscall.SIGCONT)
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

// Kill kills the group at once and waits for the child.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
}

// Tail is the last lines of output, oldest first.
func (p *Process) Tail() []string { return p.tail.lines() }

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

// ring keeps the last n lines.
type ring struct {
	mu   sync.Mutex
	buf  []string
	next int
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]string, n)} }

func (r *ring) add(s string) {
	r.mu.Lock()
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
	r.mu.Unlock()
}

func (r *ring) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]string(nil), r.buf[:r.next]...)
	}
	return append(append([]string(nil), r.buf[r.next:]...), r.buf[:r.next]...)
}
