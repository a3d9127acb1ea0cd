package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// The test binary runs the command itself when DEVSTACK_MAIN is set, so the
// tests exercise the real process: flags, environment, stdout, signals.
func TestMain(m *testing.M) {
	if os.Getenv("DEVSTACK_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

func command(env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{"DEVSTACK_MAIN=1"}, env...)...)
	return cmd
}

func TestReadyLineServeAndSIGTERM(t *testing.T) {
	cmd := command("KAFKA_PORT=0", "REGISTRY_PORT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("no ready line; stderr: %s", stderr.String())
	}
	ready := lines.Text()
	f := strings.Fields(ready)
	if len(f) != 4 || f[0] != "devstack" || f[1] != "ready" || !strings.HasPrefix(f[2], "kafka=127.0.0.1:") || !strings.HasPrefix(f[3], "registry=http://127.0.0.1:") {
		t.Fatalf("ready line %q", ready)
	}
	kafka, registry := strings.TrimPrefix(f[2], "kafka="), strings.TrimPrefix(f[3], "registry=")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka), kgo.DefaultProduceTopic("t"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", kafka, err)
	}
	cl.Close()
	rcl, err := sr.NewClient(sr.URLs(registry))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rcl.Subjects(ctx); err != nil {
		t.Fatalf("registry at %s: %v", registry, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr: %s", err, stderr.String())
	}
	if lines.Scan() {
		t.Errorf("more than one line on stdout: %q", lines.Text())
	}
	if !strings.Contains(stderr.String(), `answers every compatibility check with "compatible"`) {
		t.Errorf("no compatibility warning on stderr: %s", stderr.String())
	}
}

func TestPortInUseExitsWithOneLine(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port

	cmd := command("REGISTRY_PORT=0")
	cmd.Args = append(cmd.Args, "--kafka-port", strconv.Itoa(port))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1", err)
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, strconv.Itoa(port)) || !strings.Contains(msg, "--kafka-port") {
		t.Fatalf("stderr %q, want one line naming port %d and --kafka-port", msg, port)
	}
	if stdout.Len() != 0 {
		t.Fatalf("stdout %q: nothing may claim readiness", stdout.String())
	}
}

func TestBadSettingExits(t *testing.T) {
	cmd := command("KAFKA_PORT=ninety")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2", err)
	}
	if !strings.Contains(stderr.String(), "KAFKA_PORT") {
		t.Fatalf("stderr %q does not name KAFKA_PORT", stderr.String())
	}
}
