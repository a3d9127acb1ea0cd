// Command demo runs the whole finflow pipeline for `make demo`: it recreates
// a demo database, starts bin/devstack (embedded Kafka and schema registry),
// bin/writer and bin/producer as child processes, shows live progress, and
// on Ctrl-C or after DEMO_DURATION drains, stops everything and checks in
// PostgreSQL that every produced record was stored exactly once. It exits 0
// only when that check passes.
//
// Settings are flags or the environment variables of the same name
// (--demo-rate ↔ DEMO_RATE); see -help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/finflow/finflow/services/devstack/internal/demo"
	"github.com/finflow/finflow/services/kit/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg demo.Config
	fs.StringVar(&cfg.BinDir, "bin-dir", "bin", "directory with the producer, writer and devstack binaries (make build)")
	fs.IntVar(&cfg.Rate, "demo-rate", 2000, "producer target events/s (0 = unlimited)")
	duration := fs.String("demo-duration", "", "stop after this long, e.g. 20s (empty = until Ctrl-C)")
	fs.StringVar(&cfg.ServerURL, config.DatabaseURL, config.DefaultDatabaseURL,
		"PostgreSQL server to create the demo database on (its database is only used to connect); password in the URL or PGPASSWORD")
	fs.StringVar(&cfg.Database, "demo-database", "finflow_demo", "the demo's database, DROPPED and recreated every run")
	fs.StringVar(&cfg.KafkaBrokers, config.KafkaBrokers, "", "external Kafka instead of the devstack's (empty = devstack)")
	fs.StringVar(&cfg.RegistryURL, config.SchemaRegistryURL, "", "external schema registry instead of the devstack's (empty = devstack)")
	fs.StringVar(&cfg.Topic, config.KafkaTopic, "", "topic (default transactions; on external Kafka a new transactions-demo-<time>)")
	fs.IntVar(&cfg.KafkaPort, "kafka-port", 9092, "devstack Kafka port")
	fs.IntVar(&cfg.RegistryPort, "registry-port", 8081, "devstack schema registry port")
	fs.StringVar(&cfg.ProducerMetricsAddr, "producer-metrics-addr", "127.0.0.1:9101", "producer /metrics address")
	fs.StringVar(&cfg.WriterMetricsAddr, "writer-metrics-addr", "127.0.0.1:9102", "writer /metrics address")
	fs.DurationVar(&cfg.DrainTimeout, "demo-drain-timeout", 30*time.Second, "after the producer stops, how long the writer may store nothing before the demo gives up waiting")
	fs.StringVar(&cfg.LogDir, "demo-log-dir", "", "directory for the services' logs (empty = a new temporary directory)")
	live := fs.String("demo-live", "auto", "redraw progress in place: on, off, or auto (when stdout is a terminal)")
	if err := config.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 2
	}
	if *duration != "" {
		d, err := time.ParseDuration(*duration)
		if err != nil || d <= 0 {
			fmt.Fprintf(stderr, "demo: DEMO_DURATION: %q is not a positive Go duration such as 20s or 2m (empty = until Ctrl-C)\n", *duration)
			return 2
		}
		cfg.Duration = d
	}
	cfg.Out = stdout
	switch *live {
	case "auto":
		cfg.Live = isTerminal(stdout)
	case "on":
		cfg.Live = true
	case "off":
		cfg.Live = false
	default:
		fmt.Fprintf(stderr, "demo: DEMO_LIVE: %q is not on, off or auto\n", *live)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		// From now on a second Ctrl-C kills the runner outright; the
		// kernel then kills the services (PDEATHSIG).
		stop()
	}()

	err := demo.Run(ctx, cfg)
	if err == nil {
		return 0
	}
	report(stderr, err)
	return 1
}

// report prints each failure; a failed service comes with its log's tail.
func report(w io.Writer, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			report(w, e)
		}
		return
	}
	var se *demo.ServiceError
	if errors.As(err, &se) {
		fmt.Fprintf(w, "demo: FAILED: %s %v\n", se.Service, se.Err)
		if len(se.Tail) > 0 {
			fmt.Fprintf(w, "demo: last lines of %s:\n", se.LogPath)
			for _, l := range se.Tail {
				fmt.Fprintf(w, "  | %s\n", l)
			}
		} else {
			fmt.Fprintf(w, "demo: %s wrote nothing (log %s)\n", se.Service, se.LogPath)
		}
		return
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "exactly-once") {
		msg = "FAILED: " + msg
	}
	fmt.Fprintf(w, "demo: %s\n", msg)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
