package stack_test

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/finflow/finflow/services/devstack/stack"
)

// BenchmarkProduce measures what the dev stack's broker takes over TCP from
// one franz-go client: 200-byte values (about a Transaction's size), keyed
// over six partitions, acks=all, idempotent, default batching. It bounds
// what `make demo` can show at DEMO_RATE=0.
func BenchmarkProduce(b *testing.B) {
	st, err := stack.Start(context.Background(), stack.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.KafkaAddr()), kgo.DefaultProduceTopic("bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 6, -1, nil, "bench"); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 200)
	_, _ = rand.Read(value)
	keys := make([][]byte, 1000)
	for i := range keys {
		keys[i] = []byte{byte(i), byte(i >> 8)}
	}

	b.SetBytes(int64(len(value)))
	b.ResetTimer()
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for i := range b.N {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Key: keys[i%len(keys)], Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
