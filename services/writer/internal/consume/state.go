package consume

import (
	"strconv"
	"sync"
	"time"

	"github.com/finflow/finflow/services/writer/internal/metrics"
	"github.com/finflow/finflow/services/writer/internal/sink"
)

// partition is what the writer knows of one partition it owns.
type partition struct {
	// expected is the checkpoint's next_offset as this writer last read or
	// wrote it (sink.NoCheckpoint: no row yet): the compare-and-set value.
	expected int64
	// advancedAt is when the checkpoint last advanced (updated_at as read
	// at assignment, then our own commits).
	advancedAt time.Time
	hwm        int64 // high watermark from the last fetch; -1 unknown
	logStart   int64 // log start offset from the last fetch
	// oldestPending is the timestamp of the oldest record fetched but not
	// yet committed; zero when none is pending.
	oldestPending time.Time
}

// partitions is the shared state of the partitions this writer owns. The
// poll loop, the group callbacks and the gauge ticker all use it.
type partitions struct {
	mu    sync.Mutex
	topic string
	m     *metrics.Writer
	parts map[int32]*partition
}

func newPartitions(topic string, m *metrics.Writer) *partitions {
	return &partitions{topic: topic, m: m, parts: map[int32]*partition{}}
}

// assign starts tracking p from its stored checkpoint (ok=false: none).
func (ps *partitions) assign(p int32, st sink.Stored, ok bool, now time.Time) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s := &partition{expected: sink.NoCheckpoint, advancedAt: now, hwm: -1}
	if ok {
		s.expected, s.advancedAt = st.Next, st.UpdatedAt
	}
	ps.parts[p] = s
	ps.m.AssignedPartitions.Set(float64(len(ps.parts)))
	ps.updateLocked(p, s, now)
}

// forget stops tracking p and removes its series, so a partition that moved
// to another writer is not reported twice.
func (ps *partitions) forget(p int32) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.parts, p)
	ps.m.AssignedPartitions.Set(float64(len(ps.parts)))
	l := ps.labels(p)
	ps.m.CheckpointOffset.DeleteLabelValues(l...)
	ps.m.CheckpointAge.DeleteLabelValues(l...)
	ps.m.LagRecords.DeleteLabelValues(l...)
	ps.m.LagSeconds.DeleteLabelValues(l...)
}

func (ps *partitions) owned() []int32 {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]int32, 0, len(ps.parts))
	for p := range ps.parts {
		out = append(out, p)
	}
	return out
}

// expected returns p's compare-and-set value; ok=false if p is not owned.
func (ps *partitions) expected(p int32) (int64, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s, ok := ps.parts[p]
	if !ok {
		return 0, false
	}
	return s.expected, true
}

// setExpected replaces p's compare-and-set value after a reload.
func (ps *partitions) setExpected(p int32, next int64) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if s, ok := ps.parts[p]; ok {
		s.expected = next
	}
}

// fetched records a fetch's watermarks for p.
func (ps *partitions) fetched(p int32, hwm, logStart int64) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if s, ok := ps.parts[p]; ok {
		s.hwm, s.logStart = hwm, logStart
	}
}

// pending notes that a record of p with timestamp ts waits in a batch.
func (ps *partitions) pending(p int32, ts time.Time) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if s, ok := ps.parts[p]; ok && s.oldestPending.IsZero() {
		s.oldestPending = ts
	}
}

// committed records that p's checkpoint is now next.
func (ps *partitions) committed(p int32, next int64, now time.Time) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s, ok := ps.parts[p]
	if !ok {
		return
	}
	s.expected, s.advancedAt, s.oldestPending = next, now, time.Time{}
	ps.updateLocked(p, s, now)
}

// update refreshes every gauge; the ticker calls it.
func (ps *partitions) update(now time.Time) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for p, s := range ps.parts {
		ps.updateLocked(p, s, now)
	}
}

func (ps *partitions) updateLocked(p int32, s *partition, now time.Time) {
	l := ps.labels(p)
	if s.expected >= 0 {
		ps.m.CheckpointOffset.WithLabelValues(l...).Set(float64(s.expected))
	}
	ps.m.CheckpointAge.WithLabelValues(l...).Set(now.Sub(s.advancedAt).Seconds())
	if s.hwm < 0 {
		return // no fetch yet: lag unknown, not zero
	}
	pos := s.expected
	if pos < 0 {
		pos = s.logStart
	}
	lag := max(s.hwm-pos, 0)
	ps.m.LagRecords.WithLabelValues(l...).Set(float64(lag))
	var age float64
	switch {
	case lag == 0:
	case !s.oldestPending.IsZero():
		age = now.Sub(s.oldestPending).Seconds()
	default:
		// Records wait that we have not fetched yet, so their time is
		// unknown: the checkpoint's age is the best lower bound we have.
		age = now.Sub(s.advancedAt).Seconds()
	}
	ps.m.LagSeconds.WithLabelValues(l...).Set(max(age, 0))
}

func (ps *partitions) labels(p int32) []string {
	return []string{ps.topic, strconv.Itoa(int(p))}
}
