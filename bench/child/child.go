// Package child runs a binary under test (devstack, producer, writer) as a
// child process: its output goes to a log file, its stdout lines can be
// waited for, and its peak resident memory is tracked by reading VmHWM from
// /proc/<pid>/status while it runs.
//
// Not from rusage at exit: Linux carries the parent's memory high-water mark
// across fork and exec into the child's ru_maxrss, so a child of a harness
// holding 1 GiB would report at least 1 GiB.
package child

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/finflow/finflow/bench/procmem"
)

// Spec says what to run.
type Spec struct {
	Name string   // for messages, e.g. "writer"
	Path string   // the binary
	Args []string // its arguments
	// Env is added to the harness's environment. Settings the children read
	// from the environment (KAFKA_BROKERS, ...) are cleared first so only
	// the flags the harness passes apply.
	Env []string
	// Log receives stdout and stderr. Required.
	Log string
	// SampleEvery is how often memory is sampled. Default 100ms.
	SampleEvery time.Duration
}

// Process is a running child.
type Process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	log     *os.File
	done    chan struct{} // closed after Wait returned and output is drained
	err     error         // Wait's error, valid after done

	mu     sync.Mutex
	peak   int64
	lines  []string // last lines of stdout
	notify chan struct{}
}

// keepLines bounds the stdout kept in memory; the log file has it all.
const keepLines = 200

// scrubbed are environment variables the services read; the harness clears
// them so a developer's shell cannot redirect a benchmark run.
var scrubbed = []string{"KAFKA_BROKERS", "SCHEMA_REGISTRY_URL", "DATABASE_URL", "KAFKA_TOPIC", "METRICS_ADDR"}

// Start starts the child. ctx bounds nothing after Start returns: stop the
// child with Stop, or let it exit and Wait.
func Start(spec Spec) (*Process, error) {
	if spec.Name == "" || spec.Path == "" || spec.Log == "" {
		return nil, errors.New("child: Name, Path and Log are required")
	}
	if spec.SampleEvery <= 0 {
		spec.SampleEvery = 100 * time.Millisecond
	}
	log, err := os.Create(spec.Log)
	if err != nil {
		return nil, fmt.Errorf("start %s: log: %w", spec.Name, err)
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append(environ(), spec.Env...)
	cmd.Stderr = log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	// If the harness dies, its children must not keep ports and CPU busy.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(log, "$ %s %s\n", spec.Path, strings.Join(spec.Args, " "))
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &Process{name: spec.Name, logPath: spec.Log, cmd: cmd, log: log, done: make(chan struct{}), notify: make(chan struct{})}

	var output sync.WaitGroup
	output.Add(1)
	go func() {
		defer output.Done()
		p.readStdout(stdout)
	}()
	stopSampling := make(chan struct{})
	go p.sample(spec.SampleEvery, stopSampling)
	go func() {
		output.Wait() // Wait closes the pipe; read it to the end first
		err := cmd.Wait()
		close(stopSampling)
		fmt.Fprintf(log, "# %s exited: %v\n", spec.Name, cmd.ProcessState)
		log.Close()
		p.err = err
		close(p.done)
	}()
	return p, nil
}

func environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		skip := false
		for _, s := range scrubbed {
			if k == s {
				skip = true
			}
		}
		if !skip {
			out = append(out, kv)
		}
	}
	return out
}

func (p *Process) readStdout(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(p.log, line)
		p.mu.Lock()
		p.lines = append(p.lines, line)
		if len(p.lines) > keepLines {
			p.lines = p.lines[len(p.lines)-keepLines:]
		}
		close(p.notify)
		p.notify = make(chan struct{})
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r) // a line over 1 MiB: keep the child from blocking
}

func (p *Process) sample(every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		p.sampleOnce()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// sampleOnce reads VmHWM, the peak so far, so one read after the peak is
// enough; only a peak in the last interval before an exit can be missed.
func (p *Process) sampleOnce() {
	if st, err := procmem.Read(p.cmd.Process.Pid); err == nil {
		p.observe(st.Peak)
	}
}

func (p *Process) observe(peak int64) {
	p.mu.Lock()
	if peak > p.peak {
		p.peak = peak
	}
	p.mu.Unlock()
}

// Name is the child's name.
func (p *Process) Name() string { return p.name }

// Log is the path of the child's log.
func (p *Process) Log() string { return p.logPath }

// Tail returns up to the last n lines of the child's log (stdout and
// stderr), to say why it failed.
func (p *Process) Tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// PeakRSS is the highest resident memory seen so far, in bytes (the last
// VmHWM read).
func (p *Process) PeakRSS() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

// Lines returns the last stdout lines (up to 200).
func (p *Process) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Exited is closed when the child has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// ErrExited means the child exited while something waited for it to do more.
var ErrExited = errors.New("exited")

// WaitLine waits for a stdout line starting with prefix and returns it.
func (p *Process) WaitLine(ctx context.Context, prefix string) (string, error) {
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if strings.HasPrefix(l, prefix) {
				p.mu.Unlock()
				return l, nil
			}
		}
		ch := p.notify
		p.mu.Unlock()
		select {
		case <-ch:
		case <-p.done:
			// Lines may have arrived just before the exit.
			for _, l := range p.Lines() {
				if strings.HasPrefix(l, prefix) {
					return l, nil
				}
			}
			return "", fmt.Errorf("%s %w (%v) before printing %q", p.name, ErrExited, p.err, prefix)
		case <-ctx.Done():
			return "", fmt.Errorf("%s: waiting for %q: %w", p.name, prefix, ctx.Err())
		}
	}
}

// Wait waits for the child to exit by itself and returns its exit error.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.exitErr()
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", p.name, ctx.Err())
	}
}

func (p *Process) exitErr() error {
	if p.err != nil {
		return fmt.Errorf("%s: %w", p.name, p.err)
	}
	return nil
}

// Stop asks the child to shut down (SIGTERM), waits up to grace for it to
// exit, then kills it. It returns the exit error of a child that did not exit
// cleanly; stopping one that already exited returns how it exited.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	p.sampleOnce() // the peak of its work, before shutting down
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return p.exitErr()
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s: did not exit within %s of SIGTERM: killed", p.name, grace)
	}
}
