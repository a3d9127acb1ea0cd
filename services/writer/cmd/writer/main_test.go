package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finflow/finflow/services/kit/pgtest"
	"github.com/finflow/finflow/services/writer/internal/fixture"
)

// Bad configuration: exit 2 within seconds, one line naming the setting.
func TestBadConfigIsOneLineAndExit2(t *testing.T) {
	cases := []struct {
		env     []string
		args    []string
		setting string
	}{
		{[]string{"KAFKA_BROKERS=no-port"}, nil, "KAFKA_BROKERS"},
		{nil, []string{"--schema-registry-url", "ftp://x"}, "SCHEMA_REGISTRY_URL"},
		{[]string{"DATABASE_URL=postgres://u:secret@h:notaport/db"}, nil, "DATABASE_URL"},
		{nil, []string{"--kafka-topic", "bad topic!"}, "KAFKA_TOPIC"},
		{nil, []string{"--metrics-addr", "nowhere"}, "METRICS_ADDR"},
		{[]string{"BATCH_MAX_RECORDS=0"}, nil, "BATCH_MAX_RECORDS"},
		{nil, []string{"--batch-max-bytes", "10"}, "BATCH_MAX_BYTES"},
		{[]string{"BATCH_MAX_WAIT=soon"}, nil, "BATCH_MAX_WAIT"},
		{nil, []string{"--db-max-conns", "0"}, "DB_MAX_CONNS"},
		{nil, []string{"--db-max-conns", "2", "--write-parallelism", "3"}, "WRITE_PARALLELISM"},
		{nil, []string{"--consumer-group", ""}, "CONSUMER_GROUP"},
		{nil, []string{"--no-such-flag"}, "no-such-flag"},
		{nil, []string{"frobnicate"}, "frobnicate"},
	}
	for _, c := range cases {
		cmd := exec.Command(releaseBin, c.args...)
		cmd.Env = c.env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		done := make(chan error, 1)
		_ = cmd.Start()
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%v %v: still running after 5s", c.env, c.args)
			continue
		}
		msg := strings.TrimSpace(out.String())
		if cmd.ProcessState.ExitCode() != 2 || strings.Contains(msg, "\n") || !strings.Contains(msg, c.setting) {
			t.Errorf("%v %v: exit %d, output %q; want exit 2 and one line naming %s", c.env, c.args, cmd.ProcessState.ExitCode(), msg, c.setting)
		}
		if strings.Contains(msg, "secret") {
			t.Errorf("the password leaked into %q", msg)
		}
	}
}

func TestMigrate(t *testing.T) {
	url := pgtest.NewEmpty(t)
	run := func() string {
		out, err := exec.Command(releaseBin, "migrate", "--database-url", url).CombinedOutput()
		if err != nil {
			t.Fatalf("writer migrate: %v\n%s", err, out)
		}
		return string(out)
	}
	first := run()
	for _, f := range []string{"00001_raw_transactions.sql", "00002_writer_checkpoints.sql", "00003_dead_letters.sql"} {
		if !strings.Contains(first, "applied "+f) {
			t.Errorf("first migrate did not report %s:\n%s", f, first)
		}
	}
	if again := run(); !strings.Contains(again, "up to date") {
		t.Errorf("second migrate: %q, want up to date", again)
	}
	out, err := exec.Command(releaseBin, "migrate", "--database-url", "postgres://finflow@127.0.0.1:1/x?connect_timeout=2").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "DATABASE_URL") {
		t.Errorf("migrating an unreachable database: %v %q", err, out)
	}
}

// A database that is not there yet (or a schema not migrated yet) is waited
// for, with a clear log line, not a crash loop; a stop while waiting is
// clean.
func TestWaitsForTheDatabase(t *testing.T) {
	s := newStack(t, 1)
	env := s.env("DATABASE_URL=postgres://finflow@127.0.0.1:1/finflow?sslmode=disable&connect_timeout=1")
	p := start(t, "writer without database", releaseBin, env)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.out.String(), "waiting for PostgreSQL") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if p.wait(2 * time.Second) {
		t.Fatalf("the writer exited (%v) instead of waiting for the database", p.cmd.ProcessState)
	}
	if !strings.Contains(p.out.String(), "waiting for PostgreSQL") {
		t.Fatal("no log line says what the writer waits for")
	}
	p.stop(10 * time.Second)

	// A reachable database without the schema: waits too, and says why.
	empty := pgtest.NewEmpty(t)
	p = start(t, "writer without schema", releaseBin, s.env("DATABASE_URL="+empty))
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(p.out.String(), "writer migrate") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(p.out.String(), "writer migrate") {
		t.Fatal("no log line says the schema is missing")
	}
	// Migrating lets it start.
	if out, err := exec.Command(releaseBin, "migrate", "--database-url", empty).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	sum := s.producer.Transactions(t, 0, 100)
	ends := map[int32]int64{0: 100}
	fixture.WaitCaughtUp(t, empty, group, topic, ends, 60*time.Second)
	p.stop(30 * time.Second)
	fixture.Check(t, empty, fixture.Expect{Group: group, Topic: topic, Rows: 100, SumPence: sum, Ends: ends})
}

// SIGTERM finishes the batch in flight before leaving; while that batch
// cannot be written (here: no INSERT privilege) the writer keeps at it, and
// a second signal makes it exit at once. Nothing is lost: the next writer
// stores every record once.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	s := newStack(t, 2)
	ctx := context.Background()
	if _, err := s.db.Exec(ctx, `REVOKE INSERT ON raw_transactions FROM CURRENT_USER`); err != nil {
		t.Fatal(err)
	}
	sum := s.producer.Transactions(t, 0, 1000)
	p := start(t, "stuck writer", releaseBin, s.env("GROUP_REBALANCE_TIMEOUT=60s"))
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.out.String(), "permission denied") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p.out.String(), "permission denied") {
		t.Fatal("the writer never tried to write")
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if p.wait(time.Second) {
		t.Fatalf("the writer exited (%v) on the first signal although its batch is not written", p.cmd.ProcessState)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if !p.wait(3 * time.Second) {
		t.Fatal("the writer did not exit at once on the second signal")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d after a forced stop, want 1", code)
	}

	if _, err := s.db.Exec(ctx, `GRANT INSERT ON raw_transactions TO CURRENT_USER`); err != nil {
		t.Fatal(err)
	}
	next := start(t, "next writer", releaseBin, s.env())
	ends := fixture.EndOffsets(t, s.brokers, topic)
	fixture.WaitCaughtUp(t, s.dbURL, group, topic, ends, 60*time.Second)
	next.stop(30 * time.Second)
	fixture.Check(t, s.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: 1000, SumPence: sum, Ends: ends})
}
