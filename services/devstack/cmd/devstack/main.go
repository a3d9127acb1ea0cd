// Command devstack serves finflow's development infrastructure on 127.0.0.1:
// a Kafka-protocol broker (franz-go kfake) and a Confluent-compatible schema
// registry (franz-go srfake), until SIGINT or SIGTERM.
//
//	devstack [--kafka-port 9092] [--registry-port 8081] [--data-dir DIR]
//
// Each flag can also be set by its environment variable (KAFKA_PORT,
// REGISTRY_PORT, DATA_DIR). When both services listen, it prints exactly one
// line on stdout:
//
//	devstack ready kafka=127.0.0.1:9092 registry=http://127.0.0.1:8081
//
// Everything else (the compatibility warning, logs) goes to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/finflow/finflow/services/devstack/stack"
	"github.com/finflow/finflow/services/kit/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kafkaPort := fs.Int("kafka-port", 9092, "Kafka broker port on 127.0.0.1 (0 = any free port)")
	registryPort := fs.Int("registry-port", 8081, "schema registry port on 127.0.0.1 (0 = any free port)")
	dataDir := fs.String("data-dir", "", "keep topics, offsets, groups and schemas here across restarts (empty = memory only)")
	partitions := fs.Int("partitions", 6, "partitions of topics created without a count")
	logLevel := fs.String("log-level", "warn", "broker log level on stderr: error, warn")
	if err := config.Parse(fs, args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "devstack: %v\n", err)
		return 2
	}
	var level slog.Level
	switch *logLevel {
	case "error":
		level = slog.LevelError
	case "warn":
		level = slog.LevelWarn
	default:
		fmt.Fprintf(stderr, "devstack: LOG_LEVEL: %q is not error or warn\n", *logLevel)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	st, err := stack.Start(startCtx, stack.Config{
		KafkaPort:    *kafkaPort,
		RegistryPort: *registryPort,
		DataDir:      *dataDir,
		Partitions:   *partitions,
		Logger:       logger,
	})
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "devstack: %v\n", err)
		return 1
	}
	fmt.Fprintln(stderr, stack.CompatibilityWarning)
	if *dataDir != "" {
		fmt.Fprintf(stderr, "devstack: persisting to %s\n", *dataDir)
	}
	fmt.Fprintf(stdout, "devstack ready kafka=%s registry=%s\n", st.KafkaAddr(), st.RegistryURL())

	<-ctx.Done()
	stop() // a second signal now kills the process the default way
	fmt.Fprintln(stderr, "devstack: shutting down")
	if err := st.Close(); err != nil {
		fmt.Fprintf(stderr, "devstack: %v\n", err)
		return 1
	}
	return 0
}
