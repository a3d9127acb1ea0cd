package consume_test

import (
	"testing"
	"time"

	"github.com/finflow/finflow/services/writer/internal/fixture"
)

// A new writer continues exactly where the database says the old one
// stopped, on every partition.
func TestRestartContinuesFromCheckpoints(t *testing.T) {
	e := newEnv(t, 3)
	sum := e.producer.Transactions(t, 0, 1000)
	w := e.start(t, nil)
	fixture.WaitCaughtUp(t, e.dbURL, group, topic, fixture.EndOffsets(t, e.brokers, topic), 60*time.Second)
	w.stop()
	sum += e.producer.Transactions(t, 1000, 1000)
	e.start(t, nil)
	ends := fixture.EndOffsets(t, e.brokers, topic)
	fixture.WaitCaughtUp(t, e.dbURL, group, topic, ends, 60*time.Second)
	fixture.Check(t, e.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: 2000, SumPence: sum, Ends: ends})
}
