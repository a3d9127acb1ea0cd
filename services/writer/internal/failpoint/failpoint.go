//go:build failpoints

// Package failpoint lets crash tests kill the writer at exact points of the
// exactly-once protocol. It is compiled in only with -tags failpoints; the
// production binary gets the no-op in nofailpoint.go.
//
// FINFLOW_FAILPOINT="name:N[,name:N...]" makes the N-th call of Inject(name)
// SIGKILL the process itself: no deferred function, no rollback, no goodbye
// to PostgreSQL or Kafka, exactly like a power cut of the process.
package failpoint

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Enabled reports whether failpoints are compiled in.
const Enabled = true

var (
	once    sync.Once
	mu      sync.Mutex
	targets map[string]int
	hits    map[string]int
)

func load() {
	targets, hits = map[string]int{}, map[string]int{}
	for _, part := range strings.Split(os.Getenv("FINFLOW_FAILPOINT"), ",") {
		name, n, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			continue
		}
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			targets[name] = v
		}
	}
}

// Inject kills the process if name's armed count is reached.
func Inject(name string) {
	once.Do(load)
	if len(targets) == 0 {
		return
	}
	mu.Lock()
	want, ok := targets[name]
	if !ok {
		mu.Unlock()
		return
	}
	hits[name]++
	hit := hits[name] == want
	mu.Unlock()
	if hit {
		_, _ = os.Stderr.WriteString("failpoint " + name + ": SIGKILL\n")
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way; never run another instruction of the caller
	}
}
