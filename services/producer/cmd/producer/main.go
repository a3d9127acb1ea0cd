// Command producer publishes synthetic UK banking transactions to Kafka as
// protobuf in the Confluent wire format, registering the contract in the
// schema registry first. It runs until --count, --duration or a signal
// (SIGINT/SIGTERM: stop generating, drain what is buffered, print totals; a
// second signal exits at once), then prints
//
//	totals produced=<N> failed=<M> bytes=<B> elapsed=<duration>
//
// as the last line on stdout. Logs go to stderr. Exit status: 0 when every
// record was acknowledged, 1 when records failed or start-up did, 2 for
// bad configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	"github.com/finflow/finflow/services/kit/config"
	"github.com/finflow/finflow/services/kit/telemetry"
	"github.com/finflow/finflow/services/producer/encoding"
	"github.com/finflow/finflow/services/producer/generator"
	"github.com/finflow/finflow/services/producer/publish"
)

const defaultMetricsAddr = "127.0.0.1:9101"

func main() {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, sig, os.Exit))
}

// settings are the parsed flags.
type settings struct {
	brokers, registryURL, topic, metricsAddr string
	rate                                     float64
	count                                    int64
	duration                                 time.Duration
	seed                                     uint64
	users                                    int
	dailyCurve                               bool
	registerSchema                           bool
	compatibility                            string
	compression                              string
	partitions                               int
	replicationFactor                        int
	connectTimeout, flushTimeout             time.Duration
}

func flags(s *settings) *flag.FlagSet {
	fs := flag.NewFlagSet("producer", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, on one line, by run
	fs.StringVar(&s.brokers, config.KafkaBrokers, config.DefaultKafkaBrokers, "Kafka seed brokers, host:port[,host:port...]")
	fs.StringVar(&s.registryURL, config.SchemaRegistryURL, config.DefaultSchemaRegistryURL, "schema registry base URL")
	fs.StringVar(&s.topic, config.KafkaTopic, config.DefaultKafkaTopic, "topic to produce to; values are registered under <topic>-value")
	fs.StringVar(&s.metricsAddr, config.MetricsAddr, defaultMetricsAddr, "listen address for /metrics, /healthz and /readyz; empty disables")
	fs.Float64Var(&s.rate, "rate", 1, "events per second; 0 = as fast as possible")
	fs.Int64Var(&s.count, "count", 0, "stop after this many events; 0 = unlimited")
	fs.DurationVar(&s.duration, "duration", 0, "stop after this long, e.g. 30s; 0 = unlimited")
	fs.Uint64Var(&s.seed, "seed", 1, "random seed: the same seed gives the same customers and transactions")
	fs.IntVar(&s.users, "users", generator.DefaultUsers, fmt.Sprintf("number of customers (1..%d)", generator.MaxUsers))
	fs.BoolVar(&s.dailyCurve, "daily-curve", false, "scale --rate by the UK time of day (quiet nights, lunchtime and evening peaks; mean 1)")
	fs.BoolVar(&s.registerSchema, "register-schema", true, "register the schema at start-up; false requires it to be registered already")
	fs.StringVar(&s.compatibility, "compatibility", "BACKWARD", "compatibility level set on the subject before registering; empty leaves it alone")
	fs.StringVar(&s.compression, "compression", "zstd", "batch compression: zstd, lz4, snappy, gzip or none")
	fs.IntVar(&s.partitions, "partitions", 6, "partitions when creating the topic")
	fs.IntVar(&s.replicationFactor, "replication-factor", 1, "replication factor when creating the topic")
	fs.DurationVar(&s.connectTimeout, "connect-timeout", 10*time.Second, "how long to keep trying the broker and the schema registry at start-up")
	fs.DurationVar(&s.flushTimeout, "flush-timeout", 10*time.Second, "how long to wait at shutdown for buffered records to be acknowledged")
	return fs
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: producer [flags]   (every flag can also be set as its environment variable)")
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  --%s (%s, default %q)\n      %s\n", f.Name, config.EnvName(f.Name), f.DefValue, f.Usage)
	})
}

// run is the whole program; main only binds it to the process. exit is
// called on a second signal, which does not wait for anything.
func run(args []string, stdout, stderr io.Writer, sig <-chan os.Signal, exit func(int)) int {
	fail := func(code int, err error) int {
		// One line, whatever the error's shape.
		fmt.Fprintf(stderr, "producer: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return code
	}

	var s settings
	fs := flags(&s)
	if err := config.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stderr, fs)
			return 0
		}
		return fail(2, fmt.Errorf("%w (see producer -h)", err))
	}
	pcfg, err := s.validate()
	if err != nil {
		return fail(2, err)
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	reg := telemetry.NewRegistry()
	pcfg.Registry, pcfg.Logger = reg, log
	if s.dailyCurve {
		pcfg.Intensity = generator.Intensity
	}
	gen, err := generator.New(generator.Config{Seed: s.seed, Users: s.users})
	if err != nil {
		return fail(2, fmt.Errorf("USERS: %w", err))
	}
	pub, err := publish.New(pcfg)
	if err != nil {
		return fail(2, err)
	}
	defer pub.Close()

	// The totals line is printed once, by whichever of a normal end and a
	// second signal comes first.
	var printOnce sync.Once
	printTotals := func(t publish.Totals) { printOnce.Do(func() { fmt.Fprintln(stdout, t) }) }

	// The first signal cancels ctx: start-up gives up, a run drains.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	go func() {
		select {
		case <-sig:
		case <-ctx.Done():
			return
		}
		log.Info("signal: stopping; draining buffered records (signal again to exit at once)")
		cancel()
		<-sig
		t := pub.Totals(time.Since(start))
		log.Error("second signal: exiting without draining", "unacknowledged_counted_as_failed", pub.Buffered())
		printTotals(t)
		exit(1)
	}()

	var healthy atomic.Bool
	if s.metricsAddr != "" {
		live := func(context.Context) error {
			if !healthy.Load() {
				return errors.New("starting: not yet connected to kafka with the schema registered")
			}
			return nil
		}
		ready := func(ctx context.Context) error {
			if err := live(ctx); err != nil {
				return err
			}
			return pub.Ready(ctx)
		}
		srv, err := telemetry.Listen(s.metricsAddr, reg, live, ready)
		if err != nil {
			return fail(2, err)
		}
		log.Info("serving metrics", "addr", srv.Addr())
		defer func() {
			sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer scancel()
			_ = srv.Shutdown(sctx)
		}()
	}

	startupFailed := func(err error) int {
		if ctx.Err() != nil {
			return fail(1, errors.New("interrupted during start-up"))
		}
		return fail(1, err)
	}
	schema, err := registerSchema(ctx, s)
	if err != nil {
		return startupFailed(err)
	}
	log.Info("schema ready", "subject", schema.Subject, "id", schema.ID, "version", schema.Version)
	if err := pub.Connect(ctx); err != nil {
		return startupFailed(err)
	}
	healthy.Store(true)
	log.Info("producing", "topic", s.topic, "rate", s.rate, "count", s.count, "duration", s.duration,
		"daily_curve", s.dailyCurve, "compression", s.compression, "seed", s.seed, "users", s.users)

	totals, err := pub.Run(ctx, &source{gen: gen, enc: encoding.NewEncoder(schema.ID)})
	pub.Close()
	log.Info("stopped", "produced", totals.Produced, "failed", totals.Failed, "bytes", totals.Bytes, "elapsed", totals.Elapsed)
	code := 0
	if err != nil {
		log.Error("run failed", "err", err)
		code = 1
	}
	if totals.Failed > 0 {
		code = 1
	}
	printTotals(totals)
	return code
}

// validate checks every setting at once and names the one to fix.
func (s *settings) validate() (publish.Config, error) {
	var errs []error
	brokers, err := config.Brokers(s.brokers)
	if err != nil {
		errs = append(errs, err)
		brokers = []string{s.brokers} // reported; keep publish from repeating it
	}
	errs = append(errs, config.HTTPURL(config.EnvName(config.SchemaRegistryURL), s.registryURL))
	errs = append(errs, config.ListenAddr(config.EnvName(config.MetricsAddr), s.metricsAddr, true))
	if _, err := encoding.ParseCompatibility(s.compatibility); err != nil {
		errs = append(errs, fmt.Errorf("COMPATIBILITY: %w", err))
	}
	if s.users < 1 || s.users > generator.MaxUsers {
		errs = append(errs, fmt.Errorf("USERS: must be 1..%d, got %d", generator.MaxUsers, s.users))
	}
	if s.partitions < 1 || s.partitions > 1<<20 {
		errs = append(errs, fmt.Errorf("PARTITIONS: must be at least 1, got %d", s.partitions))
	}
	if s.replicationFactor < 1 || s.replicationFactor > 1<<14 {
		errs = append(errs, fmt.Errorf("REPLICATION_FACTOR: must be at least 1, got %d", s.replicationFactor))
	}
	if s.connectTimeout <= 0 {
		errs = append(errs, fmt.Errorf("CONNECT_TIMEOUT: must be > 0, got %v", s.connectTimeout))
	}
	if s.flushTimeout <= 0 {
		errs = append(errs, fmt.Errorf("FLUSH_TIMEOUT: must be > 0, got %v", s.flushTimeout))
	}
	cfg := publish.Config{
		Brokers:           brokers,
		Topic:             s.topic,
		Partitions:        int32(s.partitions),
		ReplicationFactor: int16(s.replicationFactor),
		Compression:       s.compression,
		Rate:              s.rate,
		Count:             s.count,
		Duration:          s.duration,
		ConnectTimeout:    s.connectTimeout,
		FlushTimeout:      s.flushTimeout,
	}
	errs = append(errs, cfg.Validate()) // rate, count, duration, compression, topic
	return cfg, errors.Join(errs...)
}

// registerSchema registers (or, with --register-schema=false, looks up) the
// contract, retrying network failures until --connect-timeout: a registry
// that is still starting should not fail the producer, one that refuses the
// schema should at once.
func registerSchema(ctx context.Context, s settings) (sr.SubjectSchema, error) {
	cl, err := sr.NewClient(sr.URLs(s.registryURL), sr.HTTPClient(&http.Client{Timeout: 5 * time.Second}))
	if err != nil {
		return sr.SubjectSchema{}, fmt.Errorf("SCHEMA_REGISTRY_URL: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.connectTimeout)
	defer cancel()
	opts := encoding.RegisterOptions{Create: s.registerSchema, Compatibility: s.compatibility}
	subject := encoding.Subject(s.topic)
	var last error
	for {
		ss, err := encoding.Register(ctx, cl, subject, opts)
		if err == nil {
			return ss, nil
		}
		if !unreachable(err) {
			return ss, fmt.Errorf("schema registry %s: %w", s.registryURL, err)
		}
		if ctx.Err() == nil || last == nil {
			last = err // the attempt cut short by the deadline says less
		}
		if ctx.Err() != nil {
			var op *net.OpError
			if errors.As(last, &op) {
				last = op // "dial tcp ...: connection refused", without the URL twice over
			}
			return ss, fmt.Errorf("SCHEMA_REGISTRY_URL: no schema registry at %s answered within %s: %w", s.registryURL, s.connectTimeout, last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// unreachable is true for transport failures (refused, reset, DNS,
// timeouts), as opposed to answers from the registry.
func unreachable(err error) bool {
	var ue *url.Error
	var ne net.Error
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode >= 500 // the registry is up but unwell: retry too
	}
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
}

// source makes the records: generated transactions, framed for the
// registered schema. Values go into the publisher's recycled buffers; keys
// are the generator's per-account bytes.
type source struct {
	gen *generator.Generator
	enc *encoding.Encoder
	tx  finflowv1.Transaction
}

func (s *source) Next(buf []byte) (key, value []byte, err error) {
	key = s.gen.Next(&s.tx)
	value, err = s.enc.AppendEncode(buf, &s.tx)
	return key, value, err
}
