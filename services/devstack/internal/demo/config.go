package demo

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/finflow/finflow/services/kit/config"
)

// Config is one demo run. Defaults are written next to each field; validate
// fills them in and rejects bad values naming the setting.
type Config struct {
	// BinDir holds the producer, writer and devstack binaries (make build).
	// Default "bin".
	BinDir string
	// Rate is the producer's target events/s (DEMO_RATE); 0 = unlimited.
	// Default (from the command) 2000.
	Rate int
	// Duration stops the run after this long (DEMO_DURATION); 0 = run until
	// the context ends (Ctrl-C).
	Duration time.Duration
	// ServerURL names the PostgreSQL server (DATABASE_URL); the demo creates
	// its own database there. Default: the local server scripts/postgres.sh
	// provisions.
	ServerURL string
	// Database is the demo's database, dropped and recreated every run.
	// Default "finflow_demo".
	Database string
	// KafkaBrokers and RegistryURL point the services at an external Kafka
	// or registry; each one left empty is served by a devstack child.
	KafkaBrokers string
	RegistryURL  string
	// Topic is the topic to use. Default "transactions" on the devstack's
	// fresh broker; on an external broker a new "transactions-demo-<time>"
	// per run, so that older records cannot enter the count.
	Topic string
	// KafkaPort and RegistryPort are the devstack's ports. Default 9092 and
	// 8081.
	KafkaPort    int
	RegistryPort int
	// ProducerMetricsAddr and WriterMetricsAddr are where the services
	// serve /metrics and /healthz. Defaults 127.0.0.1:9101 and :9102.
	ProducerMetricsAddr string
	WriterMetricsAddr   string
	// DrainTimeout is how long the drain, after the producer stopped, may
	// go without the writer storing anything before it gives up. Default
	// 30s.
	DrainTimeout time.Duration
	// StartTimeout bounds each service's start-up. Default 30s.
	StartTimeout time.Duration
	// LogDir receives one log file per service. Default: a new directory
	// under the system's temporary directory.
	LogDir string
	// Out receives the progress and the summary. Default os.Stdout.
	Out io.Writer
	// Live redraws the progress line in place (a terminal); otherwise one
	// line per second (CI). Default false.
	Live bool
	// Interval is the progress period. Default 1s.
	Interval time.Duration
}

func (c *Config) validate() error {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.BinDir, "bin")
	def(&c.ServerURL, config.DefaultDatabaseURL)
	def(&c.Database, "finflow_demo")
	def(&c.ProducerMetricsAddr, "127.0.0.1:9101")
	def(&c.WriterMetricsAddr, "127.0.0.1:9102")
	if c.KafkaPort == 0 {
		c.KafkaPort = 9092
	}
	if c.RegistryPort == 0 {
		c.RegistryPort = 8081
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 30 * time.Second
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if c.Topic == "" {
		c.Topic = "transactions"
		if c.KafkaBrokers != "" {
			c.Topic = "transactions-demo-" + time.Now().UTC().Format("20060102t150405")
		}
	}

	var errs []error
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("DEMO_RATE: %d must be 0 (unlimited) or positive", c.Rate))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("DEMO_DURATION: %s must be positive (or empty: until Ctrl-C)", c.Duration))
	}
	if c.KafkaBrokers != "" {
		if _, err := config.Brokers(c.KafkaBrokers); err != nil {
			errs = append(errs, err)
		}
	}
	if c.RegistryURL != "" {
		if err := config.HTTPURL("SCHEMA_REGISTRY_URL", c.RegistryURL); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range []struct{ name, v string }{{"PRODUCER_METRICS_ADDR", c.ProducerMetricsAddr}, {"WRITER_METRICS_ADDR", c.WriterMetricsAddr}} {
		if err := config.ListenAddr(a.name, a.v, false); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"KAFKA_PORT", c.KafkaPort}, {"REGISTRY_PORT", c.RegistryPort}} {
		if p.v < 1 || p.v > 65535 {
			errs = append(errs, fmt.Errorf("%s: %d is not a port", p.name, p.v))
		}
	}
	if c.DrainTimeout < 0 || c.StartTimeout < 0 || c.Interval < 0 {
		errs = append(errs, errors.New("DEMO_DRAIN_TIMEOUT and the start timeout must be positive"))
	}
	for _, b := range []string{"producer", "writer", "devstack"} {
		if b == "devstack" && !c.needDevstack() {
			continue
		}
		p := filepath.Join(c.BinDir, b)
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("BIN_DIR: %s is missing or not executable: run `make build` first", p))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) needDevstack() bool { return c.KafkaBrokers == "" || c.RegistryURL == "" }

// portCheck is a listen address the run will need, and the setting that
// moves it.
type portCheck struct {
	what, addr, setting string
}

// ports lists the addresses the run's services will listen on.
func (c *Config) ports() []portCheck {
	var out []portCheck
	if c.KafkaBrokers == "" {
		out = append(out, portCheck{"devstack Kafka", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.KafkaPort)), "KAFKA_PORT"})
	}
	if c.RegistryURL == "" {
		out = append(out, portCheck{"devstack schema registry", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.RegistryPort)), "REGISTRY_PORT"})
	}
	return append(out,
		portCheck{"producer metrics", c.ProducerMetricsAddr, "PRODUCER_METRICS_ADDR"},
		portCheck{"writer metrics", c.WriterMetricsAddr, "WRITER_METRICS_ADDR"},
	)
}

// checkPorts fails on the first address someone else already listens on,
// before anything starts, with the setting that moves it.
func checkPorts(ps []portCheck) error {
	for _, p := range ps {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("%s port %s is already in use (another demo, Kafka or service running?): stop it or set %s", p.what, p.addr, p.setting)
		}
		_ = ln.Close()
	}
	return nil
}
