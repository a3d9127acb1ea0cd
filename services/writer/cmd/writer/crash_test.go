package main

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/finflow/finflow/services/writer/internal/fixture"
)

// Crash safety: 100,000 records on 6 partitions, the writer killed with
// SIGKILL again and again: at exact points of the commit protocol (by
// failpoints compiled into the test binary) and at random times while
// records arrive. Each time a new process takes over. In the end every
// record is stored exactly once.
func TestCrashSafety(t *testing.T) {
	s := newStack(t, 6)
	const total, chunk = 100_000, 10_000
	var sum int64
	produced := 0
	produce := func(n int) {
		sum += s.producer.Transactions(t, produced, n)
		produced += n
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	random := func() time.Duration { return time.Duration(rng.IntN(1500)) * time.Millisecond }
	kills := []string{ // FINFLOW_FAILPOINT, or "" for SIGKILL at a random time
		"after-copy-before-commit:3",
		"",
		"mid-copy:2",
		"after-checkpoint-before-copy:4",
		"",
		"after-commit-before-kafka-commit:2",
		"after-copy-before-commit:1",
		"",
		"mid-copy:1",
	}
	env := s.env("BATCH_MAX_RECORDS=2000")
	for i, fp := range kills {
		if fp != "" {
			// The records are there before the writer starts; it dies by
			// itself at the failpoint.
			produce(chunk)
			p := start(t, fp, failpointBin, append(env, "FINFLOW_FAILPOINT="+fp))
			if !p.wait(90 * time.Second) {
				p.dump()
				t.Fatalf("run %d: failpoint %s never fired", i, fp)
			}
			if !p.killedBySignal() {
				t.Fatalf("run %d: the writer exited (%v) instead of dying at failpoint %s", i, p.cmd.ProcessState, fp)
			}
			t.Logf("run %d: killed at failpoint %s", i, fp)
			continue
		}
		// Records arrive while the writer works; it is killed at a random
		// moment after they are all produced.
		p := start(t, fmt.Sprint("random kill ", i), failpointBin, env)
		produce(chunk)
		d := random()
		time.Sleep(d)
		p.kill()
		t.Logf("run %d: killed %v after the last record was produced", i, d)
	}
	produce(total - produced)
	ends := fixture.EndOffsets(t, s.brokers, topic)
	// The last writer runs to the end and stops cleanly.
	p := start(t, "final", failpointBin, env)
	fixture.WaitCaughtUp(t, s.dbURL, group, topic, ends, 120*time.Second)
	p.stop(30 * time.Second)
	fixture.Check(t, s.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: total, SumPence: sum, Ends: ends,
		DeadLetters: map[string]int64{}})
}
