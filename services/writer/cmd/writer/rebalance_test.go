package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/finflow/finflow/services/writer/internal/fixture"
)

// Partitions move back and forth between writers while records arrive: a
// second and a third writer join and leave again and again (stopped with
// SIGTERM, or killed), and the first one stays. Every record is stored
// exactly once, and after a clean stop Kafka's group offsets (the advisory
// mirror) equal the database checkpoints.
func TestRebalanceChurn(t *testing.T) {
	s := newStack(t, 6)
	var sum int64
	produced := 0
	produce := func(n int) {
		sum += s.producer.Transactions(t, produced, n)
		produced += n
	}
	metricsAddr := freeAddr(t)
	env := s.env("BATCH_MAX_RECORDS=1000")
	a := start(t, "writer A", failpointBin, append(env, "METRICS_ADDR="+metricsAddr))
	produce(5000)
	// Records keep coming until the given writer has committed a batch:
	// proof that partitions really moved to it.
	produceUntilWritten := func(p *proc) {
		t.Helper()
		owner := fmt.Sprintf("%%/%d", p.cmd.Process.Pid)
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			produce(500)
			var n int
			if err := s.db.QueryRow(context.Background(), `SELECT count(*) FROM writer_checkpoints WHERE owner LIKE $1`, owner).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s never committed a batch", p.name)
	}
	for round := range 4 {
		b := start(t, fmt.Sprint("writer B round ", round), failpointBin, env)
		produceUntilWritten(b)
		c := start(t, fmt.Sprint("writer C round ", round), failpointBin, env)
		produceUntilWritten(c)
		b.stop(30 * time.Second)
		produce(3000)
		if round%2 == 0 {
			c.kill() // a member that vanishes without leaving
		} else {
			c.stop(30 * time.Second)
		}
		produceUntilWritten(a)
	}
	ends := fixture.EndOffsets(t, s.brokers, topic)
	fixture.WaitCaughtUp(t, s.dbURL, group, topic, ends, 120*time.Second)

	// Partitions did move: writer A saw them revoked and assigned again.
	m := scrape(t, metricsAddr)
	if !strings.Contains(m, `finflow_writer_rebalances_total{event="revoked"}`) ||
		strings.Contains(m, `finflow_writer_rebalances_total{event="revoked"} 0`) {
		t.Errorf("writer A never had partitions revoked; the test did not churn:\n%s", grep(m, "rebalances_total"))
	}
	t.Logf("writer A:\n%s\n%s", grep(m, "finflow_writer_rebalances_total{"), grep(m, "finflow_writer_checkpoint_failures_total{"))
	a.stop(30 * time.Second)
	fixture.Check(t, s.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: int64(produced), SumPence: sum, Ends: ends,
		DeadLetters: map[string]int64{}})

	offs, err := kadm.NewClient(s.producer.Client).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	for p, end := range ends {
		if o, ok := offs.Lookup(topic, p); !ok || o.At != end {
			t.Errorf("Kafka group offset of partition %d is %v, want the checkpoint %d", p, o.At, end)
		}
	}
}

func scrape(t testing.TB, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
