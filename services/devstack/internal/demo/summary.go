package demo

import (
	"context"
	"errors"
	"fmt"
	"github.com/finflow/finflow/services/producer/publish"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/finflow/finflow/services/devstack/internal/audit"
)

// totals is the producer's last stdout line:
// "totals produced=<N> failed=<M> bytes=<B> elapsed=<Go duration>".
type totals struct {
	produced, failed, bytes int64
	elapsed                 time.Duration
}

func parseTotals(line string) (totals, error) {
	t, err := publish.ParseTotals(line)
	return totals{produced: t.Produced, failed: t.Failed, bytes: t.Bytes, elapsed: t.Elapsed}, err
}

// lastLine remembers a child's last stdout line starting with a prefix.
type lastLine struct {
	prefix string
	mu     sync.Mutex
	line   string
}

func (l *lastLine) observe(s string) {
	if strings.HasPrefix(s, l.prefix) {
		l.mu.Lock()
		l.line = s
		l.mu.Unlock()
	}
}

func (l *lastLine) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.line
}

// stopProducer stops the producer with SIGTERM and reads its totals.
func (r *runner) stopProducer() (totals, error) {
	p := r.proc("producer")
	r.say("stopping producer (SIGTERM): it flushes what it has buffered")
	graceful, err := p.Stop(producerGrace)
	if !graceful {
		return totals{}, r.failed(p, fmt.Errorf("did not exit within %s of SIGTERM; killed", producerGrace))
	}
	if err != nil {
		return totals{}, r.failed(p, fmt.Errorf("exited with %v on SIGTERM", err))
	}
	line := r.producerTotals.get()
	if line == "" {
		return totals{}, r.failed(p, errors.New("exited without its totals line"))
	}
	t, err := parseTotals(line)
	if err != nil {
		return totals{}, r.failed(p, err)
	}
	r.say("producer: %s", line)
	return t, nil
}

// stopRest stops the writer, then the devstack; each must exit cleanly.
func (r *runner) stopRest() error {
	var errs []error
	for _, s := range []struct {
		name  string
		grace time.Duration
	}{{"writer", writerGrace}, {"devstack", devstackGrace}} {
		p := r.proc(s.name)
		if p == nil {
			continue
		}
		graceful, err := p.Stop(s.grace)
		switch {
		case !graceful:
			errs = append(errs, r.failed(p, fmt.Errorf("did not exit within %s of SIGTERM; killed", s.grace)))
		case err != nil:
			errs = append(errs, r.failed(p, fmt.Errorf("exited with %v on SIGTERM", err)))
		default:
			r.say("stopped %s", s.name)
		}
	}
	return errors.Join(errs...)
}

// summary prints the totals, the exactly-once check and the business
// tables; it returns ErrCheckFailed when the check fails.
func (r *runner) summary(ctx context.Context, t totals, last sample, drained bool) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := r.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	c, err := audit.Verify(ctx, conn, r.cfg.Topic, t.produced)
	if err != nil {
		return fmt.Errorf("exactly-once check: %w", err)
	}

	r.say("")
	r.say("== summary ==")
	perSec := 0.0
	if t.elapsed > 0 {
		perSec = float64(t.produced) / t.elapsed.Seconds()
	}
	r.say("produced     %s records (%s failed), %.1f MB in %s = %s records/s", thousands(t.produced), thousands(t.failed),
		float64(t.bytes)/1e6, t.elapsed.Round(100*time.Millisecond), thousands(int64(perSec)))
	r.say("writer says  %s rows written, %s dead letters, lag %s (metrics at the end of the drain)",
		count(last.written), count(last.dead), count(last.lag))
	if !drained {
		r.say("             (the drain gave up: nothing stored for %s)", r.cfg.DrainTimeout)
	}
	r.say("")
	r.say("Exactly-once check, from PostgreSQL (database %s, topic %s):", r.cfg.Database, r.cfg.Topic)
	mark := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "FAIL"
	}
	stored := c.Rows + c.DeadLetters
	r.say("  %-4s rows + dead letters = %s + %s = %s; produced = %s", mark(stored == t.produced),
		thousands(c.Rows), thousands(c.DeadLetters), thousands(stored), thousands(t.produced))
	r.say("  %-4s duplicate transaction ids: %s", mark(c.DuplicateIDs == 0), thousands(c.DuplicateIDs))
	contiguous, checkpointed := 0, 0
	for _, p := range c.Partitions {
		if p.Records > 0 && p.Contiguous() {
			contiguous++
		}
		if p.Records > 0 && p.Checkpoint == p.MaxOffset+1 {
			checkpointed++
		}
	}
	withRecords := 0
	for _, p := range c.Partitions {
		if p.Records > 0 {
			withRecords++
		}
	}
	r.say("  %-4s offsets contiguous, none twice: %d of %d partitions", mark(contiguous == withRecords), contiguous, withRecords)
	r.say("  %-4s checkpoint = last offset + 1:   %d of %d partitions", mark(checkpointed == withRecords), checkpointed, withRecords)
	parts := audit.Table{
		Title:  "  Per partition",
		Header: []string{"partition", "records", "offsets", "checkpoint"},
		Right:  []bool{true, true, false, true},
	}
	for _, p := range c.Partitions {
		offsets := "-"
		if p.Records > 0 {
			offsets = fmt.Sprintf("%d..%d", p.MinOffset, p.MaxOffset)
		}
		parts.Rows = append(parts.Rows, []string{strconv.Itoa(int(p.Partition)), thousands(p.Records), offsets, thousands(p.Checkpoint)})
	}
	r.render(parts)
	for _, p := range c.Problems {
		r.say("  problem: %s", p)
	}
	if c.OK() {
		r.say("  PASS: every produced record is in PostgreSQL exactly once")
	} else {
		r.say("  FAIL")
	}

	var checkErr error
	if !c.OK() {
		checkErr = ErrCheckFailed
	}
	tables, err := audit.Report(ctx, conn, r.cfg.Topic)
	if err != nil {
		return errors.Join(checkErr, fmt.Errorf("business queries: %w", err))
	}
	for _, tb := range tables {
		r.say("")
		r.render(tb)
	}
	r.say("")
	if u, err := url.Parse(r.demoURL); err == nil {
		if u.User != nil {
			u.User = url.User(u.User.Username()) // never print the password
		}
		r.say("The data stays in %s: psql '%s'", r.cfg.Database, u.String())
	}
	r.say("Service logs: %s", r.cfg.LogDir)
	return checkErr
}

func (r *runner) render(t audit.Table) {
	r.out.mu.Lock()
	defer r.out.mu.Unlock()
	t.Render(r.out.w)
}
