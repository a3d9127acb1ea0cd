package consume_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/finflow/finflow/services/writer/internal/consume"
	"github.com/finflow/finflow/services/writer/internal/fixture"
)

// Database outage mid-stream: the writer's connections are terminated again
// and again, and for a while it is not allowed to insert at all, while
// records keep arriving. Nothing is lost, nothing is stored twice, and it
// resumes by itself. Only this test's database is touched; the server stays
// up for everyone else.
func TestDatabaseOutage(t *testing.T) {
	e := newEnv(t, 6)
	w := e.start(t, func(c *consume.Config) {
		c.Policy.MaxRecords = 500
		c.RebalanceTimeout = 3 * time.Second // batches are given back after 1.5s
	})
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)

	terminate := func() int {
		var n int
		// The writer's connections: ours, in this database (an autovacuum
		// worker there belongs to the superuser and is none of our business).
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()
			  AND usename = current_user AND backend_type = 'client backend') k`).Scan(&n); err != nil {
			t.Error(err)
		}
		return n
	}
	exec := func(sql string) {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Error(err)
		}
	}
	// The outage runs beside the producer: first connections die every
	// 150ms for 3s; then the writer may not insert rows for 2.5s (longer
	// than it may hold a batch) and its connections die once more.
	var (
		wg     sync.WaitGroup
		killed int
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
			killed += terminate()
			time.Sleep(150 * time.Millisecond)
		}
		exec(`REVOKE INSERT ON raw_transactions FROM CURRENT_USER`)
		killed += terminate()
		time.Sleep(2500 * time.Millisecond)
		exec(`GRANT INSERT ON raw_transactions TO CURRENT_USER`)
	}()
	const total = 30000
	var sum int64
	// At least 6s of production, so records arrive during both phases.
	for i := 0; i < total; i += 500 {
		sum += e.producer.Transactions(t, i, 500)
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()

	ends := fixture.EndOffsets(t, e.brokers, topic)
	fixture.WaitCaughtUp(t, e.dbURL, group, topic, ends, 90*time.Second)
	fixture.Check(t, e.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: total, SumPence: sum, Ends: ends,
		DeadLetters: map[string]int64{}})

	if killed == 0 {
		t.Error("no connection was ever terminated: the test did not test anything")
	}
	var dbErrors float64
	for _, op := range []string{"begin", "checkpoint", "copy", "commit", "load_checkpoints", "ping"} {
		dbErrors += testutil.ToFloat64(w.m.DBErrors.WithLabelValues(op))
	}
	failures := testutil.ToFloat64(w.m.CheckpointFailures.WithLabelValues("error"))
	if dbErrors == 0 || failures == 0 {
		t.Errorf("db errors %v, failed batch transactions %v: the outage was not seen", dbErrors, failures)
	}
	t.Logf("terminated %d connections; %v database errors, %v batch transactions failed", killed, dbErrors, failures)
}
