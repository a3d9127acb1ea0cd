package config_test

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/services/kit/config"
)

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{
		config.KafkaBrokers:      "KAFKA_BROKERS",
		config.SchemaRegistryURL: "SCHEMA_REGISTRY_URL",
		config.DatabaseURL:       "DATABASE_URL",
		config.KafkaTopic:        "KAFKA_TOPIC",
		config.MetricsAddr:       "METRICS_ADDR",
	} {
		if got := config.EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

// The environment fills flags not given on the command line; a flag given
// on the command line wins; a bad environment value names the variable.
func TestParseEnvAndPrecedence(t *testing.T) {
	newFS := func() (*flag.FlagSet, *string, *string, *time.Duration) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		topic := fs.String(config.KafkaTopic, "default-topic", "")
		brokers := fs.String(config.KafkaBrokers, "default:1", "")
		wait := fs.Duration("batch-max-wait", time.Second, "")
		return fs, topic, brokers, wait
	}
	t.Setenv("KAFKA_TOPIC", "from-env")
	t.Setenv("KAFKA_BROKERS", "env-host:9092")
	t.Setenv("BATCH_MAX_WAIT", "250ms")

	fs, topic, brokers, wait := newFS()
	if err := config.Parse(fs, []string{"--kafka-brokers", "flag-host:9092"}); err != nil {
		t.Fatal(err)
	}
	if *topic != "from-env" || *brokers != "flag-host:9092" || *wait != 250*time.Millisecond {
		t.Fatalf("got topic=%q brokers=%q wait=%v; want env topic and wait, flag brokers", *topic, *brokers, *wait)
	}

	t.Setenv("BATCH_MAX_WAIT", "soon")
	fs, _, _, _ = newFS()
	err := config.Parse(fs, nil)
	if err == nil || !strings.Contains(err.Error(), "BATCH_MAX_WAIT") {
		t.Fatalf("bad env value: got %v, want an error naming BATCH_MAX_WAIT", err)
	}
}

func TestBrokers(t *testing.T) {
	got, err := config.Brokers(" a:1, b:2 ,")
	if err != nil || len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Fatalf("Brokers = %v, %v", got, err)
	}
	for _, bad := range []string{"", "nohost", ":9092", "h:0", "h:70000", "h:port"} {
		if _, err := config.Brokers(bad); err == nil || !strings.Contains(err.Error(), "KAFKA_BROKERS") {
			t.Errorf("Brokers(%q): got %v, want an error naming KAFKA_BROKERS", bad, err)
		}
	}
}

func TestHTTPURLAndListenAddr(t *testing.T) {
	if err := config.HTTPURL("SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "127.0.0.1:8081", "ftp://x", "http://"} {
		if err := config.HTTPURL("SCHEMA_REGISTRY_URL", bad); err == nil {
			t.Errorf("HTTPURL(%q) accepted", bad)
		}
	}
	if err := config.ListenAddr("METRICS_ADDR", "", true); err != nil {
		t.Error("empty address must be allowed when optional")
	}
	if err := config.ListenAddr("METRICS_ADDR", "", false); err == nil {
		t.Error("empty address accepted when required")
	}
	if err := config.ListenAddr("METRICS_ADDR", "9101", false); err == nil {
		t.Error("address without host:port accepted")
	}
}
