package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/finflow/finflow/services/kit/config"
	"github.com/finflow/finflow/services/writer/internal/consume"
)

// Setting names beyond the shared ones (README: Configuration).
const (
	flagGroup            = "consumer-group"
	flagBatchMaxRecords  = "batch-max-records"
	flagBatchMaxBytes    = "batch-max-bytes"
	flagBatchMaxWait     = "batch-max-wait"
	flagDBMaxConns       = "db-max-conns"
	flagParallelism      = "write-parallelism"
	flagSessionTimeout   = "group-session-timeout"
	flagRebalanceTimeout = "group-rebalance-timeout"
	flagLogLevel         = "log-level"
)

// DefaultMetricsAddr is where the writer serves /metrics, /healthz, /readyz.
const DefaultMetricsAddr = "127.0.0.1:9102"

type runConfig struct {
	brokers          []string
	registryURL      string
	databaseURL      string
	pool             *pgxpool.Config
	topic            string
	metricsAddr      string
	group            string
	policy           consume.Policy
	dbMaxConns       int
	parallelism      int
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	logLevel         string
}

// parseRun reads the run command's flags and environment and validates
// them. The error is one line naming the setting to fix.
func parseRun(args []string, usage io.Writer) (*runConfig, error) {
	fs := flag.NewFlagSet("writer run", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by the caller, in one line
	var (
		brokers = fs.String(config.KafkaBrokers, config.DefaultKafkaBrokers, "Kafka seed brokers, host:port[,host:port...]")
		c       runConfig
		maxRecs = fs.Int(flagBatchMaxRecords, consume.DefaultMaxRecords, "records per database transaction (a writer holds up to --write-parallelism times this)")
		maxByte = fs.Int(flagBatchMaxBytes, consume.DefaultMaxBytes, "record bytes (keys, values, headers) per database transaction")
		maxWait = fs.Duration(flagBatchMaxWait, consume.DefaultMaxWait, "longest wait from a batch's first record to its write (bounds latency at low rates)")
	)
	fs.StringVar(&c.registryURL, config.SchemaRegistryURL, config.DefaultSchemaRegistryURL, "schema registry URL")
	fs.StringVar(&c.databaseURL, config.DatabaseURL, config.DefaultDatabaseURL, "PostgreSQL URL (password from the URL or PGPASSWORD)")
	fs.StringVar(&c.topic, config.KafkaTopic, config.DefaultKafkaTopic, "topic to consume")
	fs.StringVar(&c.metricsAddr, config.MetricsAddr, DefaultMetricsAddr, "listen address for /metrics, /healthz and /readyz (empty: off)")
	fs.StringVar(&c.group, flagGroup, consume.DefaultGroup, "Kafka consumer group, also the key of the database checkpoints")
	fs.IntVar(&c.dbMaxConns, flagDBMaxConns, 4, "PostgreSQL connection pool size")
	fs.IntVar(&c.parallelism, flagParallelism, consume.DefaultParallelism, "concurrent transactions per batch, each for a group of its partitions (at most --db-max-conns)")
	fs.DurationVar(&c.sessionTimeout, flagSessionTimeout, 45*time.Second, "consumer-group session timeout")
	fs.DurationVar(&c.rebalanceTimeout, flagRebalanceTimeout, 60*time.Second, "consumer-group rebalance timeout; a batch is never held longer than half of it")
	fs.StringVar(&c.logLevel, flagLogLevel, "info", "debug, info, warn or error")
	if err := config.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(usage, "usage: writer [run] [flags]   (every flag can also be set by its environment variable, --kafka-brokers ↔ KAFKA_BROKERS)")
			fs.SetOutput(usage)
			fs.PrintDefaults()
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	var err error
	if c.brokers, err = config.Brokers(*brokers); err != nil {
		return nil, err
	}
	if err := config.HTTPURL(config.EnvName(config.SchemaRegistryURL), c.registryURL); err != nil {
		return nil, err
	}
	if c.pool, err = pgxpool.ParseConfig(c.databaseURL); err != nil {
		// pgx redacts the password in this error.
		return nil, fmt.Errorf("%s: %v", config.EnvName(config.DatabaseURL), err)
	}
	if !topicName.MatchString(c.topic) {
		return nil, fmt.Errorf("%s: %q is not a Kafka topic name (1-249 of [a-zA-Z0-9._-])", config.EnvName(config.KafkaTopic), c.topic)
	}
	if err := config.ListenAddr(config.EnvName(config.MetricsAddr), c.metricsAddr, true); err != nil {
		return nil, err
	}
	if c.group == "" {
		return nil, fmt.Errorf("%s: must not be empty", config.EnvName(flagGroup))
	}
	c.policy = consume.Policy{MaxRecords: *maxRecs, MaxBytes: *maxByte, MaxWait: *maxWait}
	switch {
	case *maxRecs < 1 || *maxRecs > 1_000_000:
		return nil, fmt.Errorf("%s: %d is not between 1 and 1000000", config.EnvName(flagBatchMaxRecords), *maxRecs)
	case *maxByte < 1024 || *maxByte > 1<<30:
		return nil, fmt.Errorf("%s: %d is not between 1024 and 1073741824 bytes", config.EnvName(flagBatchMaxBytes), *maxByte)
	case *maxWait < time.Millisecond || *maxWait > time.Minute:
		return nil, fmt.Errorf("%s: %v is not between 1ms and 1m", config.EnvName(flagBatchMaxWait), *maxWait)
	case c.dbMaxConns < 1 || c.dbMaxConns > 100:
		return nil, fmt.Errorf("%s: %d is not between 1 and 100", config.EnvName(flagDBMaxConns), c.dbMaxConns)
	case c.parallelism < 1 || c.parallelism > c.dbMaxConns:
		return nil, fmt.Errorf("%s: %d is not between 1 and %s (%d)", config.EnvName(flagParallelism), c.parallelism,
			config.EnvName(flagDBMaxConns), c.dbMaxConns)
	case c.sessionTimeout < time.Second || c.sessionTimeout > 30*time.Minute:
		return nil, fmt.Errorf("%s: %v is not between 1s and 30m", config.EnvName(flagSessionTimeout), c.sessionTimeout)
	case c.rebalanceTimeout < 2*time.Second || c.rebalanceTimeout > 30*time.Minute:
		return nil, fmt.Errorf("%s: %v is not between 2s and 30m", config.EnvName(flagRebalanceTimeout), c.rebalanceTimeout)
	}
	switch c.logLevel {
	case "debug", "info", "warn", "error":
	default:
		return nil, fmt.Errorf("%s: %q is not debug, info, warn or error", config.EnvName(flagLogLevel), c.logLevel)
	}
	c.pool.MaxConns = int32(c.dbMaxConns)
	return &c, nil
}

var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)
