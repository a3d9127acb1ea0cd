package consume_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/finflow/finflow/services/writer/internal/consume"
	"github.com/finflow/finflow/services/writer/internal/fixture"
	"github.com/finflow/finflow/services/writer/internal/sink"
)

// The happy path, with the batch policy visible in the metrics: 2,500
// records in batches of at most 1,000.
func TestWritesEverythingOnceInBoundedBatches(t *testing.T) {
	e := newEnv(t, 6)
	sum := e.producer.Transactions(t, 0, 2500)
	w := e.start(t, func(c *consume.Config) { c.Policy.MaxRecords = 1000 })
	ends := fixture.EndOffsets(t, e.brokers, topic)
	fixture.WaitCaughtUp(t, e.dbURL, group, topic, ends, 60*time.Second)
	fixture.Check(t, e.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: 2500, SumPence: sum, Ends: ends})

	var h struct{ count, sum float64 }
	mfs, err := w.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "finflow_writer_batch_records" {
			hist := mf.GetMetric()[0].GetHistogram()
			h.count, h.sum = float64(hist.GetSampleCount()), hist.GetSampleSum()
			for _, b := range hist.GetBucket() {
				if b.GetUpperBound() == 1000 && float64(b.GetCumulativeCount()) != h.count {
					t.Errorf("%d of %v batches held more than 1,000 records", int(h.count)-int(b.GetCumulativeCount()), h.count)
				}
			}
		}
	}
	if h.sum != 2500 || h.count < 3 {
		t.Errorf("batch_records: %v batches, %v records; want >= 3 batches of 2,500 records in all", h.count, h.sum)
	}
	if got := testutil.ToFloat64(w.m.AssignedPartitions); got != 6 {
		t.Errorf("assigned partitions %v, want 6", got)
	}
	if got := testutil.ToFloat64(w.m.Rebalances.WithLabelValues("assigned")); got < 1 {
		t.Errorf("rebalances{assigned} %v, want >= 1", got)
	}
	// The offsets are mirrored to Kafka for lag tools.
	adm := kadm.NewClient(e.producer.Client)
	waitFor(t, "group offsets mirrored to Kafka", func() bool {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			return false
		}
		for p, end := range ends {
			if o, ok := offs.Lookup(topic, p); !ok || o.At != end {
				return false
			}
		}
		return true
	})
	// Lag gauges settle at zero once caught up.
	waitFor(t, "lag gauges at zero", func() bool {
		for p := range ends {
			l := []string{topic, itoa(p)}
			if testutil.ToFloat64(w.m.LagRecords.WithLabelValues(l...)) != 0 || testutil.ToFloat64(w.m.LagSeconds.WithLabelValues(l...)) != 0 ||
				testutil.ToFloat64(w.m.CheckpointOffset.WithLabelValues(l...)) != float64(ends[p]) {
				return false
			}
		}
		return true
	})
}

// Start offsets come from the database, not from Kafka's group offsets:
// a group offset that claims more (or less) progress is ignored.
func TestStartsFromDatabaseCheckpoints(t *testing.T) {
	e := newEnv(t, 1)
	sum := e.producer.Transactions(t, 0, 100)
	// Kafka says the group is at 90; the database says nothing yet.
	adm := kadm.NewClient(e.producer.Client)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 90, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(context.Background(), group, offs); err != nil {
		t.Fatal(err)
	}
	e.start(t, nil)
	ends := map[int32]int64{0: 100}
	fixture.WaitCaughtUp(t, e.dbURL, group, topic, ends, 60*time.Second)
	fixture.Check(t, e.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: 100, SumPence: sum, Ends: ends})
}

// A topic that does not exist yet is waited for, not an error.
func TestWaitsForTheTopic(t *testing.T) {
	e := newEnv(t, 0) // no topic
	w := e.start(t, nil)
	time.Sleep(500 * time.Millisecond) // let the writer join and find nothing
	adm := kadm.NewClient(e.producer.Client)
	if _, err := adm.CreateTopic(context.Background(), 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	sum := e.producer.Transactions(t, 0, 300)
	ends := fixture.EndOffsets(t, e.brokers, topic)
	fixture.WaitCaughtUp(t, e.dbURL, group, topic, ends, 90*time.Second)
	fixture.Check(t, e.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: 300, SumPence: sum, Ends: ends})
	w.stop()
}

// Zombie fencing in the loop: while this writer waits on the checkpoint row
// with a batch for offsets X.., another writer (the test, standing in for
// the partition's new owner) commits X→Y with those rows. The writer's
// batch is fenced: counted, discarded, rewound to Y; nothing is stored
// twice and it carries on from Y.
func TestFencedBatchIsDiscarded(t *testing.T) {
	e := newEnv(t, 1)
	sum := e.producer.Transactions(t, 0, 100)
	w := e.start(t, nil)
	fixture.WaitCaughtUp(t, e.dbURL, group, topic, map[int32]int64{0: 100}, 60*time.Second)

	ctx := context.Background()
	other, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	// The new owner locks the checkpoint row first...
	if _, err := other.Exec(ctx, `SELECT 1 FROM writer_checkpoints WHERE kafka_partition = 0 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	// ...records 100..149 arrive and the writer's batch waits on the lock...
	sum += e.producer.Transactions(t, 100, 50)
	waitFor(t, "the writer to wait on the checkpoint row lock", func() bool {
		var n int
		_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		return n > 0
	})
	// ...and the new owner writes 100..149 itself and commits 100→150.
	if _, err := other.Exec(ctx, `UPDATE writer_checkpoints SET next_offset = 150, owner = 'new-owner'
		WHERE consumer_group = $1 AND topic = $2 AND kafka_partition = 0 AND next_offset = 100`, group, topic); err != nil {
		t.Fatal(err)
	}
	rows := make([]sink.Row, 50)
	for i := range rows {
		rows[i] = fixture.Row(topic, 0, int64(100+i), int32(e.schemaID), 100+i)
	}
	if err := fixture.InsertRows(ctx, other, rows); err != nil {
		t.Fatal(err)
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fenced batch to be counted", func() bool {
		return testutil.ToFloat64(w.m.CheckpointFailures.WithLabelValues("fenced")) == 1
	})
	// The writer carries on from 150.
	sum += e.producer.Transactions(t, 150, 30)
	ends := map[int32]int64{0: 180}
	fixture.WaitCaughtUp(t, e.dbURL, group, topic, ends, 60*time.Second)
	fixture.Check(t, e.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: 180, SumPence: sum, Ends: ends})
	if got := testutil.ToFloat64(w.m.CheckpointFailures.WithLabelValues("fenced")); got != 1 {
		t.Errorf("fenced %v times, want once", got)
	}
}

// While the registry fails, a record with a new schema id waits (it is not
// dead-lettered), and is written once the registry answers.
func TestRegistryOutageHoldsRecords(t *testing.T) {
	e := newEnv(t, 1)
	var down atomic.Bool
	down.Store(true)
	var refused atomic.Int64
	e.registry.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if down.Load() {
			refused.Add(1)
			http.Error(w, `{"error_code":50001,"message":"store unavailable"}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	sum := e.producer.Transactions(t, 0, 20)
	e.start(t, func(c *consume.Config) { c.RebalanceTimeout = 2 * time.Second }) // gives the batch back after 1s
	waitFor(t, "the writer to retry the registry", func() bool { return refused.Load() >= 5 })
	var stored int
	if err := e.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM raw_transactions) + (SELECT count(*) FROM dead_letters)`).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("%d records stored during the registry outage (%v), want 0", stored, err)
	}
	down.Store(false)
	ends := map[int32]int64{0: 20}
	fixture.WaitCaughtUp(t, e.dbURL, group, topic, ends, 60*time.Second)
	fixture.Check(t, e.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: 20, SumPence: sum, Ends: ends, DeadLetters: map[string]int64{}})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func itoa(p int32) string { return strconv.Itoa(int(p)) }

// A group error while the writer holds nothing (here: its first joins fail)
// reaches it as a fetch error from a poll; such a poll must not keep
// blocking rebalances, or the group could never assign it anything.
func TestSurvivesFailedJoins(t *testing.T) {
	e := newEnv(t, 3)
	var failed atomic.Int64
	e.kafka.ControlKey(int16(kmsg.JoinGroup), func(kmsg.Request) (kmsg.Response, error, bool) {
		if failed.Add(1) > 3 {
			e.kafka.DropControl()
			return nil, nil, false
		}
		e.kafka.KeepControl()
		return nil, errors.New("injected: connection dropped during join"), true
	})
	sum := e.producer.Transactions(t, 0, 500)
	e.start(t, nil)
	ends := fixture.EndOffsets(t, e.brokers, topic)
	fixture.WaitCaughtUp(t, e.dbURL, group, topic, ends, 30*time.Second)
	fixture.Check(t, e.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: 500, SumPence: sum, Ends: ends})
	if failed.Load() < 3 {
		t.Fatalf("only %d joins were intercepted", failed.Load())
	}
}
