//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/finflow/finflow/e2e/audit"
	"github.com/finflow/finflow/e2e/poison"
	contract "github.com/finflow/finflow/proto"
	"github.com/finflow/finflow/services/kit/pgtest"
	"github.com/finflow/finflow/services/kit/proc"
)

// TestEndToEnd runs the pipeline on the real stack under chaos and then
// checks exactly-once delivery independently. See doc.go and the README's
// "End-to-end suite".
func TestEndToEnd(t *testing.T) {
	set := loadSettings(t)
	s := newStack(t, set)
	t.Logf("logs: %s", s.logDir)
	ctx, cancel := context.WithTimeout(context.Background(), 18*time.Minute)
	defer cancel()

	suffix := time.Now().UTC().Format("20060102-150405") + "-" + poison.NewUUID()[:8]
	topic := "e2e-transactions-" + suffix
	group := "e2e-writers-" + suffix
	subject := topic + "-value"
	t.Cleanup(func() { s.printLogsOnFailure() })
	// Registered before anything that uses them, so it runs after they stop.
	t.Cleanup(func() { s.removeRunState(topic, group) })

	// A fresh database, migrated by the writer itself.
	dbURL := pgtest.NewEmpty(t)
	migrate, err := proc.Start(proc.Spec{Name: "migrate", Path: filepath.Join(s.binDir, "writer"), Args: []string{"migrate"},
		Env: s.childEnv(topic, dbURL), LogPath: filepath.Join(s.logDir, "migrate.log"), Markers: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(migrate.Kill)
	if err := migrate.Wait(ctx); err != nil {
		t.Fatalf("writer migrate: %v\n%s", err, proc.TailFile(migrate.Spec.LogPath, 20))
	}
	s.event("database %s migrated by `writer migrate`", dbName(dbURL))

	// The topic, created up front so the writers can join before the
	// producer starts; the producer must accept an existing topic.
	resp, err := s.adm.CreateTopic(ctx, 6, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	s.event("topic %s created (6 partitions)", topic)

	ws := s.newWriters(topic, group, dbURL)
	for _, name := range []string{"writer-1", "writer-2"} {
		if err := ws.start(name); err != nil {
			t.Fatal(err)
		}
		hctx, hcancel := context.WithTimeout(ctx, 30*time.Second)
		err := ws.waitHealthy(hctx, name)
		hcancel()
		if err != nil {
			t.Fatalf("%s never answered /healthz: %v\n%s", name, err, proc.TailFile(filepath.Join(s.logDir, name+".log"), 30))
		}
	}
	s.event("writer-1 and writer-2 running (group %s)", group)

	producer, err := s.startProducer(topic)
	if err != nil {
		t.Fatal(err)
	}
	s.event("producer started: --count %d --rate %d", s.records, s.rate)

	// The producer registers the contract; find its id.
	var schemaID int
	regCtx, regCancel := context.WithTimeout(ctx, 60*time.Second)
	defer regCancel()
	err = poll(regCtx, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		if producer.Exited() {
			return false, fmt.Errorf("producer exited before registering %s: %v", subject, producer.Err())
		}
		ss, err := s.reg.SchemaByVersion(ctx, subject, -1)
		if err != nil {
			return false, nil
		}
		schemaID = ss.ID
		return true, nil
	})
	if err != nil {
		t.Fatalf("subject %s: %v\n%s", subject, err, proc.TailFile(producer.Spec.LogPath, 30))
	}
	s.event("producer registered %s: schema id %d", subject, schemaID)

	ids := poison.IDs{Transaction: schemaID}
	other, err := s.reg.CreateSchema(ctx, topic+"-other-value", sr.Schema{Schema: poison.OtherSchema, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatalf("register the schema_mismatch probe: %v", err)
	}
	ids.Other = other.ID
	if _, err := s.reg.SchemaByID(ctx, poison.UnknownSchemaID); err == nil {
		t.Fatalf("schema id %d exists in the registry; the unknown_schema records would not be unknown", poison.UnknownSchemaID)
	}
	in, err := s.newInjector(topic, ids)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.wave(ctx, s.wavePerKind); err != nil {
		t.Fatal(err)
	}

	// Chaos, paced by the pipeline's own progress so every fault lands
	// mid-stream whatever the speed of the machine.
	chaosErr := make(chan error, 1)
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		chaosErr <- s.chaos(ctx, topic, group, dbURL, ws, in, producer)
	}()
	// A failed test cancels ctx; the chaos must be over before the writers'
	// cleanup, or it could start one behind its back.
	t.Cleanup(func() { cancel(); <-chaosDone })

	prodCtx, prodCancel := context.WithTimeout(ctx, s.produceMax)
	exitErr := producer.Wait(prodCtx)
	prodCancel()
	if !producer.Exited() {
		t.Fatalf("producer still running after %s\n%s", s.produceMax, proc.TailFile(producer.Spec.LogPath, 30))
	}
	tot, err := parseTotals(producer.LastLine())
	if err != nil {
		t.Fatalf("producer (exit %v): %v\n%s", exitErr, err, proc.TailFile(producer.Spec.LogPath, 30))
	}
	if exitErr != nil {
		// Keep going: what did reach the topic must still be stored exactly once.
		t.Errorf("producer exited with %v (totals %s)\n%s", exitErr, producer.LastLine(), proc.TailFile(producer.Spec.LogPath, 30))
	}
	s.event("producer done: produced=%d failed=%d bytes=%d elapsed=%s (%.0f records/s)",
		tot.produced, tot.failed, tot.bytes, tot.elapsed, float64(tot.produced)/tot.elapsed.Seconds())
	if tot.produced+tot.failed != int64(s.records) {
		t.Errorf("producer totals: produced %d + failed %d != --count %d", tot.produced, tot.failed, s.records)
	}
	if err := <-chaosErr; err != nil {
		t.Fatalf("chaos: %v", err)
	}

	// Drain: every partition's checkpoint at the broker's end offset.
	drainStart := time.Now()
	var lastLog time.Time
	drainCtx, drainCancel := context.WithTimeout(ctx, s.drainMax)
	defer drainCancel()
	err = poll(drainCtx, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		end, err := s.produced(ctx, topic)
		if err != nil {
			return false, nil // broker busy; ask again
		}
		done, err := written(ctx, dbURL, group, topic)
		if err != nil {
			return false, nil
		}
		if time.Since(lastLog) > 10*time.Second {
			s.event("draining: checkpoints %d / end offsets %d (writers running: %v)", done, end, ws.running())
			lastLog = time.Now()
		}
		return done == end, nil
	})
	if err != nil {
		t.Fatalf("writers did not drain within %s: %v", s.drainMax, err)
	}
	s.event("drained in %.1fs after the producer finished", time.Since(drainStart).Seconds())

	for _, name := range ws.running() {
		t.Logf("%s metrics at the end:\n%s", name, ws.metrics(ctx, name))
	}
	for _, name := range ws.running() {
		if err := ws.stop(name, s.stopGrace); err != nil {
			t.Error(err)
		}
	}
	for _, u := range ws.unexpectedExits() {
		t.Errorf("writer exit nobody asked for: %s", u)
	}
	s.checkCommittedOffsets(t, ctx, dbURL, group, topic)

	// ---- exactly once --------------------------------------------------------
	t0 := time.Now()
	readCtx, readCancel := context.WithTimeout(ctx, 5*time.Minute)
	defer readCancel()
	read, err := audit.ReadTopic(readCtx, s.brokers, topic)
	if err != nil {
		t.Fatalf("read the topic back: %v", err)
	}
	s.event("read the topic back in %.1fs: %d records, %d valid, %d poison", time.Since(t0).Seconds(), read.Records(), len(read.Valid), len(read.Poison))

	t.Run("exactly once", func(t *testing.T) {
		if got := read.PoisonByKind(); !mapsEqual(got, in.sent) {
			t.Errorf("poison on the topic %v, injected (acknowledged) %v", got, in.sent)
		}
		if int64(len(read.Valid)) != tot.produced {
			t.Errorf("the topic holds %d valid records, the producer reported produced=%d", len(read.Valid), tot.produced)
		}
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		rep, err := audit.Compare(ctx, conn, read, group)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("audit: %s", rep)
		if !rep.OK() {
			t.Errorf("exactly-once violated:\n%s", rep)
		}
		if int64(rep.Rows) != tot.produced {
			t.Errorf("raw_transactions has %d rows, producer totals say produced=%d", rep.Rows, tot.produced)
		}
		wantDL := map[string]int{}
		for k, n := range in.sent {
			wantDL[k.Reason()] += n
		}
		if !mapsEqual(rep.DeadLetters, wantDL) {
			t.Errorf("dead letters per reason %v, want %v", rep.DeadLetters, wantDL)
		}
		var sample []string
		rows, err := conn.Query(ctx, `SELECT DISTINCT ON (reason) reason, error FROM dead_letters ORDER BY reason, id`)
		if err == nil {
			for rows.Next() {
				var r, e string
				if rows.Scan(&r, &e) == nil {
					sample = append(sample, r+": "+e)
				}
			}
			rows.Close()
		}
		t.Logf("one dead-letter error per reason:\n  %s", strings.Join(sample, "\n  "))
	})

	t.Run("schema registry holds the contract", func(t *testing.T) {
		ss, err := s.reg.SchemaByVersion(ctx, subject, -1)
		if err != nil {
			t.Fatal(err)
		}
		if ss.Type != sr.TypeProtobuf {
			t.Errorf("%s latest: type %v, want PROTOBUF", subject, ss.Type)
		}
		if ss.Schema.Schema != contract.TransactionProto {
			t.Errorf("%s latest (id %d, version %d) is not the text of proto/%s", subject, ss.ID, ss.Version, contract.TransactionFile)
		}
		for id, n := range read.SchemaIDs {
			if id != ss.ID {
				t.Errorf("%d valid records carry schema id %d, the subject's latest is %d", n, id, ss.ID)
			}
		}
	})

	t.Run("python consumer (confluent-kafka ProtobufDeserializer)", func(t *testing.T) {
		s.pythonCheck(t, ctx, topic, dbURL, read)
	})

	t.Run("registry compatibility gate", func(t *testing.T) {
		s.compatibilityGate(t, ctx, topic)
	})

	s.summary(t, tot, read)
}

// minChaosGap is the least time between two chaos steps.
const minChaosGap = 2 * time.Second

// chaos is the fault schedule. Each step waits for its gate: a share of the
// records produced (end offsets) or written (checkpoints).
func (s *stack) chaos(ctx context.Context, topic, group, dbURL string, ws *writers, in *injector, producer *proc.Process) error {
	n := int64(s.records)
	gateProduced := func(share float64) error {
		return poll(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
			p, err := s.produced(ctx, topic)
			// A producer that is already done (or failed) opens the gate too.
			return producer.Exited() || err == nil && float64(p) >= share*float64(n), nil
		})
	}
	gateWritten := func(share float64) error {
		stall := time.Now()
		var last int64
		return poll(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
			w, err := written(ctx, dbURL, group, topic)
			if err != nil {
				return false, nil
			}
			if w != last {
				last, stall = w, time.Now()
			}
			if time.Since(stall) > 3*time.Minute {
				return false, fmt.Errorf("no checkpoint progress for 3 minutes (at %d of %d) waiting for %.0f%%", w, n, share*100)
			}
			return float64(w) >= share*float64(n), nil
		})
	}
	restartWriter := func(name string) error {
		ws.kill(name)
		time.Sleep(time.Second)
		if err := ws.start(name); err != nil {
			return err
		}
		s.event("restarted %s", name)
		return nil
	}
	steps := []struct {
		name string
		gate func() error
		do   func() error
	}{
		{"restart Kafka while producing", func() error { return gateProduced(0.15) }, func() error {
			t0 := time.Now()
			// Never cut a restart short: a half-restarted broker would outlive the run.
			if err := s.script(context.WithoutCancel(ctx), "kafka.sh", "restart"); err != nil {
				return err
			}
			s.event("Kafka broker restarted (scripts/kafka.sh restart, %.1fs)", time.Since(t0).Seconds())
			return in.wave(ctx, s.wavePerKind)
		}},
		{"kill -9 writer-1", func() error { return gateWritten(0.10) }, func() error { return restartWriter("writer-1") }},
		{"add writer-3", func() error { return gateWritten(0.20) }, func() error {
			if err := ws.start("writer-3"); err != nil {
				return err
			}
			s.event("started writer-3")
			// The rebalance must really hand it partitions (a dead member
			// may hold the group up to its session timeout).
			actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			var n int
			if err := poll(actx, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
				n = ws.assigned(ctx, "writer-3")
				return n > 0, nil
			}); err != nil {
				return fmt.Errorf("writer-3 was given no partitions (finflow_writer_assigned_partitions): %w", err)
			}
			s.event("rebalanced: writer-3 owns %d partitions", n)
			return nil
		}},
		{"kill -9 writer-2", func() error { return gateWritten(0.30) }, func() error { return restartWriter("writer-2") }},
		{"restart PostgreSQL", func() error { return gateWritten(0.45) }, func() error {
			t0 := time.Now()
			if err := s.script(context.WithoutCancel(ctx), "postgres.sh", "restart"); err != nil {
				return err
			}
			s.event("PostgreSQL restarted (scripts/postgres.sh restart, %.1fs)", time.Since(t0).Seconds())
			return in.wave(ctx, s.wavePerKind)
		}},
		{"kill -9 writer-1 again", func() error { return gateWritten(0.55) }, func() error { return restartWriter("writer-1") }},
		{"remove writer-3", func() error { return gateWritten(0.65) }, func() error {
			// A slow or failed shutdown is reported, but the run goes on:
			// exactly-once must hold either way.
			if err := ws.stop("writer-3", s.stopGrace); err != nil {
				s.t.Errorf("remove writer-3: %v", err)
			}
			return nil
		}},
		{"kill -9 writer-2 again", func() error { return gateWritten(0.75) }, func() error {
			if err := restartWriter("writer-2"); err != nil {
				return err
			}
			return in.wave(ctx, s.wavePerKind)
		}},
	}
	var last time.Time
	for _, st := range steps {
		if err := st.gate(); err != nil {
			return fmt.Errorf("before %q: %w", st.name, err)
		}
		// Writers that were starved (a dead member holding partitions until
		// its session timeout) catch up fast; keep the faults a little apart
		// so each meets the group in a different state.
		if wait := minChaosGap - time.Since(last); wait > 0 {
			time.Sleep(wait)
		}
		if err := st.do(); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		last = time.Now()
	}
	return nil
}

// pythonCheck runs python/check_topic.py with the poison coordinates to skip.
func (s *stack) pythonCheck(t *testing.T, ctx context.Context, topic, dbURL string, read *audit.Topic) {
	skip := map[string]map[string]poison.Kind{}
	for c, kind := range read.Poison {
		p := strconv.Itoa(int(c.Partition))
		if skip[p] == nil {
			skip[p] = map[string]poison.Kind{}
		}
		skip[p][strconv.FormatInt(c.Offset, 10)] = kind
	}
	skipPath := filepath.Join(s.logDir, "poison-offsets.json")
	b, _ := json.Marshal(skip)
	if err := os.WriteFile(skipPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	pyCtx, pyCancel := context.WithTimeout(ctx, 5*time.Minute)
	defer pyCancel()
	cmd := exec.CommandContext(pyCtx, s.python, filepath.Join(s.root, "e2e", "python", "check_topic.py"),
		"--brokers", strings.Join(s.brokers, ","),
		"--topic", topic,
		"--registry-url", s.registryURL,
		"--database-url", dbURL,
		"--proto-dir", filepath.Join(s.root, "proto"),
		"--skip", skipPath,
		"--expect-valid", strconv.Itoa(len(read.Valid)),
		"--expect-amount", strconv.FormatInt(read.AmountMinor, 10),
		"--sample", "500",
	)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join(s.logDir, "python.log"), out, 0o644)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Logf("python (%.1fs): %s", time.Since(t0).Seconds(), lines[len(lines)-1])
	if err != nil {
		t.Fatalf("check_topic.py: %v\n%s", err, strings.Join(lines[max(0, len(lines)-30):], "\n"))
	}
	var summary struct {
		Valid         int `json:"valid"`
		SampleChecked int `json:"sample_checked"`
		Problems      int `json:"problems"`
		Poison        map[poison.Kind]struct {
			Decoded  int `json:"decoded"`
			Rejected int `json:"rejected"`
		} `json:"poison"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &summary); err != nil {
		t.Fatalf("check_topic.py summary: %v", err)
	}
	if summary.Problems != 0 || summary.Valid != len(read.Valid) || summary.SampleChecked != min(500, len(read.Valid)) {
		t.Fatalf("check_topic.py: %+v, want %d valid records and a clean sample", summary, len(read.Valid))
	}
	// A non-Go reader must reject broken framing and truncated payloads too.
	byKind := read.PoisonByKind()
	for _, k := range []poison.Kind{poison.BadMagic, poison.TooShort, poison.Truncated} {
		if got := summary.Poison[k].Rejected; got != byKind[k] {
			t.Errorf("ProtobufDeserializer rejected %d of the %d %s records", got, byKind[k], k)
		}
	}
}

// compatibilityGate checks that the real registry enforces BACKWARD: a
// retyped field is rejected with 409 on the live subject (which stays as it
// was), and an added field is accepted on a throwaway subject.
func (s *stack) compatibilityGate(t *testing.T, ctx context.Context, topic string) {
	subject := topic + "-value"
	for _, c := range s.reg.Compatibility(ctx, subject) {
		if c.Err != nil {
			t.Fatalf("GET /config/%s: %v", subject, c.Err)
		}
		if c.Level != sr.CompatBackward {
			t.Errorf("%s compatibility %v, want BACKWARD (the producer's --compatibility default)", subject, c.Level)
		}
	}
	retyped := strings.Replace(contract.TransactionProto, "int64 amount_minor = 8;", "string amount_minor = 8;", 1)
	if retyped == contract.TransactionProto {
		t.Fatal("the contract has no `int64 amount_minor = 8;` to retype")
	}
	added, err := addField(contract.TransactionProto)
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.reg.SubjectVersions(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}

	expect409 := func(subject string) {
		t.Helper()
		_, err := s.reg.CreateSchema(ctx, subject, sr.Schema{Schema: retyped, Type: sr.TypeProtobuf})
		var re *sr.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 409 {
			t.Errorf("registering amount_minor retyped int64 → string under %s: %v, want HTTP 409", subject, err)
			return
		}
		t.Logf("%s: incompatible change rejected, HTTP %d, error_code %d: %s", subject, re.StatusCode, re.ErrorCode, re.Message)
	}
	expect409(subject)
	after, err := s.reg.SubjectVersions(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("%s versions %v after the rejected change, before %v", subject, after, before)
	}

	throwaway := topic + "-compat-value"
	for _, c := range s.reg.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, throwaway) {
		if c.Err != nil {
			t.Fatalf("PUT /config/%s: %v", throwaway, c.Err)
		}
	}
	v1, err := s.reg.CreateSchema(ctx, throwaway, sr.Schema{Schema: contract.TransactionProto, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatalf("register the contract under %s: %v", throwaway, err)
	}
	expect409(throwaway)
	v2, err := s.reg.CreateSchema(ctx, throwaway, sr.Schema{Schema: added, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatalf("a new field with a new number was rejected under %s (BACKWARD): %v", throwaway, err)
	}
	if v2.ID == v1.ID || v2.Version <= v1.Version {
		t.Errorf("compatible change registered as id %d version %d; first was id %d version %d", v2.ID, v2.Version, v1.ID, v1.Version)
	}
	t.Logf("%s: compatible change (new field) accepted as version %d, id %d", throwaway, v2.Version, v2.ID)
}

var fieldNumRE = regexp.MustCompile(`=\s*(\d+)\s*;`)

// addField adds a string field with the next free number at the end of
// message Transaction.
func addField(text string) (string, error) {
	start := strings.Index(text, "message Transaction {")
	if start < 0 {
		return "", errors.New("contract: no `message Transaction {`")
	}
	end := strings.Index(text[start:], "\n}\n")
	if end < 0 {
		return "", errors.New("contract: message Transaction has no closing brace at column 0")
	}
	end += start
	maxNum := 0
	for _, m := range fieldNumRE.FindAllStringSubmatch(text[start:end], -1) {
		n, _ := strconv.Atoi(m[1])
		maxNum = max(maxNum, n)
	}
	return text[:end] + fmt.Sprintf("\n\n  // Added by the e2e compatibility gate.\n  string e2e_note = %d;", maxNum+1) + text[end:], nil
}

// checkCommittedOffsets logs the group's Kafka-committed offsets, which the
// writer commits after the database as advice for lag tools: they may lag the
// database checkpoints, never lead them.
func (s *stack) checkCommittedOffsets(t *testing.T, ctx context.Context, dbURL, group, topic string) {
	offs, err := s.adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Logf("Kafka committed offsets of %s: %v", group, err)
		return
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	cps, err := audit.Checkpoints(ctx, conn, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for p, o := range offs[topic] {
		parts = append(parts, fmt.Sprintf("%d:%d", p, o.At))
		if o.At > cps[p] {
			t.Errorf("partition %d: Kafka-committed offset %d is ahead of the database checkpoint %d", p, o.At, cps[p])
		}
	}
	sort.Strings(parts)
	t.Logf("Kafka-committed (advisory) offsets of %s: %s", group, strings.Join(parts, " "))
}

// removeRunState deletes what the run created on the shared broker and
// registry, unless E2E_KEEP=1.
func (s *stack) removeRunState(topic, group string) {
	if s.keep {
		s.t.Logf("E2E_KEEP=1: keeping topic %s, group %s and subjects %s-*", topic, group, topic)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, subj := range []string{topic + "-value", topic + "-compat-value", topic + "-other-value"} {
		_, _ = s.reg.DeleteSubject(ctx, subj, sr.SoftDelete)
		_, _ = s.reg.DeleteSubject(ctx, subj, sr.HardDelete)
	}
	_, _ = s.adm.DeleteGroup(ctx, group)
	if _, err := s.adm.DeleteTopic(ctx, topic); err != nil {
		s.t.Logf("delete topic %s: %v", topic, err)
	}
}

// printLogsOnFailure prints the tail of every log of a failed run.
func (s *stack) printLogsOnFailure() {
	if !s.t.Failed() {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(s.logDir, "*.log"))
	state := os.Getenv("FINFLOW_STATE_DIR")
	if state == "" {
		state = filepath.Join(s.root, ".cache", "state")
	} else if !filepath.IsAbs(state) {
		state = filepath.Join(s.root, state)
	}
	logs = append(logs, filepath.Join(state, "kafka", "kafka.log"), filepath.Join(state, "registry", "registry.log"))
	for _, l := range logs {
		if tail := proc.TailFile(l, 40); tail != "" {
			s.t.Logf("----- last 40 lines of %s -----\n%s", l, tail)
		}
	}
	s.t.Logf("all logs kept in %s", s.logDir)
}

func (s *stack) summary(t *testing.T, tot totals, read *audit.Topic) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byKind := read.PoisonByKind()
	var kinds []string
	for _, k := range poison.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, byKind[k]))
	}
	t.Logf("SUMMARY: %d records produced (failed %d) in %s at --rate %d; %d poison records (%s); sum of amount_minor %d; total %.1fs\ntimeline:\n%s",
		tot.produced, tot.failed, tot.elapsed, s.rate, len(read.Poison), strings.Join(kinds, " "), read.AmountMinor,
		time.Since(s.t0).Seconds(), strings.Join(s.timeline, "\n"))
}

func dbName(url string) string {
	i := strings.LastIndex(url, "/")
	name := url[i+1:]
	if j := strings.IndexByte(name, '?'); j >= 0 {
		name = name[:j]
	}
	return name
}

func mapsEqual[K comparable](a, b map[K]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}
