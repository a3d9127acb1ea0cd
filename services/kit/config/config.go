// Package config gives every finflow service the same configuration rules:
// each flag can also be set by the environment variable of the same name in
// upper case with '-' as '_' (--kafka-brokers ↔ KAFKA_BROKERS); a flag given
// on the command line wins over the environment. Values are validated once at
// start-up with errors that say which setting to fix.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Names shared by every service (README: Configuration).
const (
	KafkaBrokers      = "kafka-brokers"
	SchemaRegistryURL = "schema-registry-url"
	DatabaseURL       = "database-url"
	KafkaTopic        = "kafka-topic"
	MetricsAddr       = "metrics-addr"
)

// Defaults shared by every service. The database default carries no
// password: pass one in DATABASE_URL or PGPASSWORD.
const (
	DefaultKafkaBrokers      = "127.0.0.1:9092"
	DefaultSchemaRegistryURL = "http://127.0.0.1:8081"
	DefaultDatabaseURL       = "postgres://finflow@127.0.0.1:5432/finflow?sslmode=disable"
	DefaultKafkaTopic        = "transactions"
)

// EnvName is the environment variable that backs the flag name.
func EnvName(flagName string) string {
	return strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args into fs, then sets every flag that was not given on the
// command line from its environment variable, if that is set. An invalid
// environment value is reported with the variable's name.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		env := EnvName(f.Name)
		v, ok := os.LookupEnv(env)
		if !ok {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("invalid %s=%q: %w", env, v, err))
		}
	})
	return errors.Join(errs...)
}

// Brokers splits and checks a comma-separated host:port list.
func Brokers(s string) ([]string, error) {
	var out []string
	for _, b := range strings.Split(s, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			return nil, fmt.Errorf("KAFKA_BROKERS: %q is not host:port", b)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("KAFKA_BROKERS: %q has an invalid port", b)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("KAFKA_BROKERS: no broker given (want host:port[,host:port...])")
	}
	return out, nil
}

// HTTPURL checks that s is an absolute http(s) URL; name is the setting's
// environment name, used in the error.
func HTTPURL(name, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %q is not an http(s) URL such as http://127.0.0.1:8081", name, s)
	}
	return nil
}

// ListenAddr checks a host:port to listen on; an empty string is allowed and
// means "disabled" when allowEmpty is set.
func ListenAddr(name, s string, allowEmpty bool) error {
	if s == "" && allowEmpty {
		return nil
	}
	if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
		return fmt.Errorf("%s: %q is not host:port (e.g. 127.0.0.1:9101)", name, s)
	}
	return nil
}
