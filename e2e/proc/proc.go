// Package proc runs the binaries under test (producer, writers) as child
// processes the suite can kill -9 and restart at will, and that cannot outlive
// it: each child leads its own process group (so a kill reaches anything it
// spawned) and gets PR_SET_PDEATHSIG=SIGKILL (so even a test binary killed by
// `go test -timeout` takes its children down). Output goes to a log file that
// is kept after the run; its tail explains a failure.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	// Env is added to the test's environment (later entries win).
	Env []string
	// LogPath receives stdout and stderr, line by line. Appended to, so one
	// file holds every incarnation of a restarted process. Required.
	LogPath string
}

// Process is one started child.
type Process struct {
	Spec Spec

	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit status; valid once done is closed

	mu       sync.Mutex
	lastLine string // last complete stdout line
}

// Start starts the child. Stop, Kill or Wait must follow so the log is closed.
func Start(spec Spec) (*Process, error) {
	if spec.Name == "" || spec.Path == "" || spec.LogPath == "" {
		return nil, errors.New("proc: Name, Path and LogPath are required")
	}
	logf, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", spec.Name, err)
	}
	_, _ = fmt.Fprintf(logf, "===== %s start: %s %s\n", time.Now().Format(time.RFC3339Nano), spec.Path, strings.Join(spec.Args, " "))

	p := &Process{Spec: spec, done: make(chan struct{})}
	var logMu sync.Mutex // whole lines from stdout and stderr, never interleaved
	stdout := &lineWriter{fn: func(line string) {
		logMu.Lock()
		_, _ = fmt.Fprintln(logf, line)
		logMu.Unlock()
		p.mu.Lock()
		p.lastLine = line
		p.mu.Unlock()
	}}
	stderr := &lineWriter{fn: func(line string) {
		logMu.Lock()
		_, _ = fmt.Fprintln(logf, line)
		logMu.Unlock()
	}}

	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A grandchild holding the pipes open must not hang Wait.
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
		logMu.Lock()
		_, _ = fmt.Fprintf(logf, "===== %s exit: %v\n", time.Now().Format(time.RFC3339Nano), exitText(err))
		logMu.Unlock()
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

// spawn forks from one OS thread that lives as long as the test binary:
// PDEATHSIG fires when the forking *thread* exits, and the Go runtime may
// retire the thread of an ordinary goroutine, which would kill the child early.
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

// LastLine is the last complete line the child wrote to stdout.
func (p *Process) LastLine() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastLine
}

// Wait waits for the child to exit or ctx to end.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("wait for %s: %w", p.Spec.Name, ctx.Err())
	}
}

// Kill is kill -9 of the whole group, without warning; it returns once the
// child is gone.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
}

// Stop asks the child to exit with SIGTERM and waits up to grace, then kills
// the group. graceful reports whether the child exited by itself in time.
func (p *Process) Stop(grace time.Duration) (graceful bool, err error) {
	if !p.Exited() {
		if err := syscall.Kill(-p.Pid(), syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return false, fmt.Errorf("signal %s: %w", p.Spec.Name, err)
		}
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

// Tail returns the last n lines of the file at path ("" when unreadable).
func Tail(path string, n int) string {
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

var _ io.Writer = (*lineWriter)(nil)

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
