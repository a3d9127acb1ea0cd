package demo

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/finflow/finflow/services/devstack/internal/scrape"
)

// Metric names from the README's metrics reference.
const (
	mProduced   = "finflow_producer_records_total"
	mWritten    = "finflow_writer_rows_written_total"
	mDead       = "finflow_writer_dead_letters_total"
	mLag        = "finflow_writer_consumer_lag_records"
	mCheckpoint = "finflow_writer_checkpoint_age_seconds"
)

// sample is one scrape of both services. NaN means the metric was not
// available (service not answering yet, or family not exported yet).
type sample struct {
	at                      time.Time
	produced                float64
	written, dead, lag, age float64
}

func (r *runner) scrape(ctx context.Context, producer bool) sample {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	nan := math.NaN()
	s := sample{at: time.Now(), produced: nan, written: nan, dead: nan, lag: nan, age: nan}
	get := func(f scrape.Families, name string, agg func(scrape.Families, string) (float64, bool), zeroIfAbsent bool) float64 {
		if f == nil {
			return nan
		}
		if v, ok := agg(f, name); ok {
			return v
		}
		if zeroIfAbsent {
			return 0
		}
		return nan
	}
	if producer {
		if f, err := scrape.Fetch(ctx, r.http, "http://"+r.cfg.ProducerMetricsAddr+"/metrics"); err == nil {
			s.produced = get(f, mProduced, scrape.Families.Sum, true)
		}
	}
	if f, err := scrape.Fetch(ctx, r.http, "http://"+r.cfg.WriterMetricsAddr+"/metrics"); err == nil {
		s.written = get(f, mWritten, scrape.Families.Sum, true)
		// A counter vector with no series yet is absent: none so far.
		s.dead = get(f, mDead, scrape.Families.Sum, true)
		// Lag and checkpoint age appear once partitions are assigned.
		s.lag = get(f, mLag, scrape.Families.Sum, false)
		s.age = get(f, mCheckpoint, scrape.Families.Max, false)
	}
	return s
}

// line renders a progress line; prev gives the rates.
func (s sample) line(prev sample, elapsed time.Duration) string {
	dt := s.at.Sub(prev.at).Seconds()
	rate := func(now, before float64) string {
		if math.IsNaN(now) || math.IsNaN(before) || dt <= 0 {
			return "-"
		}
		return count(math.Max(0, (now-before)/dt))
	}
	return fmt.Sprintf("%6s  produced %s (%s/s)  written %s (%s/s)  lag %s  checkpoint age %s  dead letters %s",
		elapsed.Truncate(time.Second), count(s.produced), rate(s.produced, prev.produced),
		count(s.written), rate(s.written, prev.written), count(s.lag), seconds(s.age), count(s.dead))
}

// count renders a number with thousands separators, or "-" when unknown.
func count(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return thousands(int64(math.Round(v)))
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func seconds(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	// The writer can report an age a hair below zero when a commit lands
	// between its clock read and its gauge update; show it as 0.
	return fmt.Sprintf("%.1fs", math.Max(v, 0))
}

// show prints a progress line: redrawn in place on a terminal, one line
// each time otherwise.
func (r *runner) show(line string) {
	if r.cfg.Live {
		r.out.printf("\r\033[K%s", line)
		return
	}
	r.out.printf("%s\n", line)
}

// endLive finishes a redrawn line so that what follows starts on its own.
func (r *runner) endLive() {
	if r.cfg.Live {
		r.out.printf("\n")
	}
}

// watch shows progress until the duration passes or ctx ends, and fails as
// soon as a service exits.
func (r *runner) watch(ctx context.Context) (sample, error) {
	r.started = time.Now()
	var deadline <-chan time.Time
	if r.cfg.Duration > 0 {
		t := time.NewTimer(r.cfg.Duration)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(r.cfg.Interval)
	defer tick.Stop()
	prev := r.scrape(context.WithoutCancel(ctx), true)
	for {
		if err := r.anyExited(); err != nil {
			r.endLive()
			return prev, err
		}
		select {
		case <-ctx.Done():
			r.endLive()
			r.say("stopping: interrupted (Ctrl-C again kills everything at once, without the check)")
			return prev, nil
		case <-deadline:
			r.endLive()
			r.say("stopping: %s passed", r.cfg.Duration)
			return prev, nil
		case <-tick.C:
		}
		s := r.scrape(context.WithoutCancel(ctx), true)
		r.show(s.line(prev, time.Since(r.started)))
		prev = s
	}
}

// anyExited reports the first service that is no longer running.
func (r *runner) anyExited() error {
	r.mu.Lock()
	procs := append(r.procs[:0:0], r.procs...)
	r.mu.Unlock()
	for _, p := range procs {
		if p.Spec.Name == "migrate" {
			continue
		}
		select {
		case <-p.Done():
			return r.failed(p, fmt.Errorf("exited unexpectedly: %v", exitText(p.Err())))
		default:
		}
	}
	return nil
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// drain waits, after the producer stopped, until the writer has stored
// every produced record (rows + dead letters = produced) and reports no
// lag. It gives up when the writer stores nothing for DrainTimeout: a
// large backlog (DEMO_RATE=0) may take minutes, a stuck writer should not.
// It reports whether it got there.
func (r *runner) drain(ctx context.Context, prev sample, t totals) (last sample, drained bool, err error) {
	r.say("draining: waiting for the writer to store all %s produced records (giving up after %s without progress)",
		thousands(t.produced), r.cfg.DrainTimeout)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastShown, lastProgress := time.Now(), time.Now()
	best := math.Inf(-1)
	prev.produced = float64(t.produced)
	for {
		s := r.scrape(ctx, false)
		s.produced = float64(t.produced)
		stored := s.written + s.dead
		// Unknown values (NaN) never count as drained.
		if !math.IsNaN(stored) && int64(stored) >= t.produced && s.lag == 0 {
			r.show(s.line(prev, time.Since(r.started)))
			r.endLive()
			return s, true, nil
		}
		if stored > best { // false for NaN
			best, lastProgress = stored, time.Now()
		}
		if time.Since(lastShown) >= r.cfg.Interval {
			r.show(s.line(prev, time.Since(r.started)))
			prev, lastShown = s, time.Now()
		}
		if w := r.proc("writer"); w != nil {
			select {
			case <-w.Done():
				r.endLive()
				return s, false, r.failed(w, fmt.Errorf("exited while draining: %v", exitText(w.Err())))
			default:
			}
		}
		if time.Since(lastProgress) > r.cfg.DrainTimeout {
			r.endLive()
			r.say("drain: gave up, nothing stored for %s (written %s + dead letters %s of %s, lag %s); the check below says what is missing",
				r.cfg.DrainTimeout, count(s.written), count(s.dead), thousands(t.produced), count(s.lag))
			return s, false, nil
		}
		select {
		case <-ctx.Done():
			r.endLive()
			return s, false, ctx.Err()
		case <-tick.C:
		}
	}
}
