// Package stack runs finflow's development infrastructure in-process: a
// Kafka-protocol broker (franz-go's kfake) and a Confluent-compatible schema
// registry (franz-go's srfake), both on 127.0.0.1. The devstack command serves
// it to the producer and writer processes of `make demo`; tests and
// benchmarks embed the same stack with Start.
//
// It is a development stack, not a production one. In particular srfake
// answers every compatibility check with "compatible": schema evolution is
// checked by `buf breaking` in CI and by a real registry in the end-to-end
// suite, never here.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/finflow/finflow/services/kit/config"
)

// CompatibilityWarning is the line the devstack command prints at start, so
// nobody mistakes the embedded registry's answers for a real check.
const CompatibilityWarning = "devstack: WARNING: the embedded schema registry (srfake) answers every compatibility check with \"compatible\"; " +
	"it does not check schema evolution (buf breaking in CI and a real registry in the end-to-end suite do)"

// Config says where and how the stack runs. The zero value is valid: free
// ports, memory only, no logs.
type Config struct {
	// KafkaPort is the broker's port on 127.0.0.1. Default 0: any free port
	// (the devstack command's default is 9092).
	KafkaPort int
	// RegistryPort is the schema registry's port on 127.0.0.1. Default 0:
	// any free port (the devstack command's default is 8081).
	RegistryPort int
	// DataDir, when set, keeps the broker's topics, offsets and groups
	// (DataDir/kafka) and the registry's schemas (DataDir/registry.json)
	// across restarts, so schema ids stay stable. Default "": memory only.
	DataDir string
	// Partitions is the partition count of topics created without one
	// (auto-created, or CreateTopics with -1). Default 6, as the README's
	// topic.
	Partitions int
	// Logger receives the broker's warnings and errors and the registry's
	// persistence problems. Default nil: discarded.
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.KafkaPort < 0 || c.KafkaPort > 65535 {
		return fmt.Errorf("KAFKA_PORT: %d is not a port (0-65535)", c.KafkaPort)
	}
	if c.RegistryPort < 0 || c.RegistryPort > 65535 {
		return fmt.Errorf("REGISTRY_PORT: %d is not a port (0-65535)", c.RegistryPort)
	}
	if c.KafkaPort != 0 && c.KafkaPort == c.RegistryPort {
		return fmt.Errorf("KAFKA_PORT and REGISTRY_PORT are both %d: they must differ", c.KafkaPort)
	}
	if c.Partitions < 0 {
		return fmt.Errorf("partitions: %d must be positive", c.Partitions)
	}
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// PortInUseError says that a port the stack must listen on is taken, and
// which setting moves it.
type PortInUseError struct {
	Service string // "kafka" or "registry"
	Port    int
	Setting string // the flag that changes it, e.g. "kafka-port"
	Err     error
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("%s port 127.0.0.1:%d is already in use (another devstack, Kafka or registry running?): choose another with --%s or %s",
		e.Service, e.Port, e.Setting, config.EnvName(e.Setting))
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// Stack is a running broker and registry. Close stops both.
type Stack struct {
	cluster  *kfake.Cluster
	registry *srfake.Registry
	persist  *registryStore // nil without DataDir
	srv      *http.Server
	regLn    net.Listener
	kafka    string
	logger   *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// Start binds both ports first, so that a port in use fails before anything
// runs, then restores persisted state (with DataDir) and serves. ctx bounds
// the start-up only; the stack runs until Close.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	kln, err := listen(cfg.KafkaPort, "kafka", "kafka-port")
	if err != nil {
		return nil, err
	}
	rln, err := listen(cfg.RegistryPort, "registry", "registry-port")
	if err != nil {
		_ = kln.Close()
		return nil, err
	}

	reg := srfake.NewRegistry()
	var store *registryStore
	if cfg.DataDir != "" {
		store = &registryStore{path: filepath.Join(cfg.DataDir, "registry.json"), reg: reg, logger: cfg.Logger}
		if err := store.restore(ctx); err != nil {
			_ = kln.Close()
			_ = rln.Close()
			return nil, fmt.Errorf("restore schema registry from %s: %w", store.path, err)
		}
	}

	kport := kln.Addr().(*net.TCPAddr).Port
	var handed atomic.Bool
	opts := []kfake.Opt{
		// One broker on the port we already hold: kfake asks ListenFn for a
		// listener and gets ours, so there is no window where the port is free.
		kfake.Ports(kport),
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			if handed.Swap(true) {
				return net.Listen(network, addr) // a node added later by a test
			}
			return kln, nil
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.Partitions),
		kfake.WithLogger(slogLogger{cfg.Logger}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(filepath.Join(cfg.DataDir, "kafka")))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		_ = kln.Close()
		_ = rln.Close()
		return nil, fmt.Errorf("start kafka broker: %w", err)
	}

	var h http.Handler = reg.Handler()
	if store != nil {
		h = store.middleware(h)
	}
	s := &Stack{
		cluster:  cluster,
		registry: reg,
		persist:  store,
		srv:      &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second},
		regLn:    rln,
		kafka:    net.JoinHostPort("127.0.0.1", strconv.Itoa(kport)),
		logger:   cfg.Logger,
	}
	go func() {
		if err := s.srv.Serve(rln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("schema registry stopped serving", "err", err)
		}
	}()
	return s, nil
}

func listen(port int, service, setting string) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, &PortInUseError{Service: service, Port: port, Setting: setting, Err: err}
		}
		return nil, fmt.Errorf("listen for %s on 127.0.0.1:%d: %w", service, port, err)
	}
	return ln, nil
}

// KafkaAddr is the broker's host:port, for --kafka-brokers.
func (s *Stack) KafkaAddr() string { return s.kafka }

// RegistryURL is the registry's base URL, for --schema-registry-url.
func (s *Stack) RegistryURL() string { return "http://" + s.regLn.Addr().String() }

// Cluster is the broker, for tests that inject faults with its control
// functions.
func (s *Stack) Cluster() *kfake.Cluster { return s.cluster }

// Registry is the registry, for tests that seed schemas or intercept
// requests.
func (s *Stack) Registry() *srfake.Registry { return s.registry }

// Close stops serving the registry (in-flight requests get a few seconds),
// writes its final snapshot with DataDir, and stops the broker, which
// flushes its own state to DataDir. It is safe to call more than once.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Stack) close() error {
	// In-flight requests get a short grace, then what is left is closed:
	// net/http counts a connection that has not sent its first request as
	// busy for 5 s, so a client's spare connection would otherwise hold
	// Shutdown. Every change was already saved when it was answered.
	grace, cancelGrace := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelGrace()
	if err := s.srv.Shutdown(grace); err != nil {
		_ = s.srv.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if s.persist != nil {
		if err := s.persist.save(ctx); err != nil {
			errs = append(errs, fmt.Errorf("save schema registry: %w", err))
		}
	}
	s.cluster.Close()
	return errors.Join(errs...)
}

// slogLogger forwards kfake's warnings and errors; its info and debug
// levels log every request, which is noise for a dev stack.
type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		l.l.Error("kafka: " + fmt.Sprintf(msg, args...))
	case kfake.LogLevelWarn:
		l.l.Warn("kafka: " + fmt.Sprintf(msg, args...))
	}
}
