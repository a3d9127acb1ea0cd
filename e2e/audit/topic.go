// Package audit is the suite's independent judge of exactly-once delivery: it
// reads a topic back from the broker, decodes every record with the contract
// (without any of the writer's code), and compares what must be in
// PostgreSQL — one row per valid record, one dead letter per poison record,
// checkpoints at the end offsets — with what is there.
package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"

	"github.com/finflow/finflow/e2e/poison"
)

// Coord is a record's place on the topic.
type Coord struct {
	Partition int32
	Offset    int64
}

func (c Coord) String() string { return fmt.Sprintf("%d/%d", c.Partition, c.Offset) }

// Row is a raw_transactions row as the contract says it must be stored:
// enumerations as the table's text values, money in minor units, and the
// revision-2 columns as "" / 0 when NULL.
type Row struct {
	TransactionID       string
	EventTime           time.Time
	UserID              string
	AccountID           string
	Merchant            string
	Category            string
	MCC                 int32
	AmountMinor         int64
	Currency            string
	Location            string
	Country             string
	Status              string
	Channel             string
	OriginalAmountMinor int64  // 0 = NULL
	OriginalCurrency    string // "" = NULL
	MerchantID          string // "" = NULL
	SchemaID            int
}

// Topic is everything read back from one topic.
type Topic struct {
	Name   string
	Starts map[int32]int64 // log start offset per partition
	Ends   map[int32]int64 // end offset (high watermark) per partition
	Valid  map[Coord]Row
	Poison map[Coord]poison.Kind
	// Broken lists records without a poison header that still failed to
	// decode: the producer wrote something the contract cannot read.
	Broken    []string
	SchemaIDs map[int]int // valid records per schema id
	// AmountMinor is the sum of amount_minor over Valid.
	AmountMinor int64
}

// Records is the number of records read.
func (t *Topic) Records() int { return len(t.Valid) + len(t.Poison) + len(t.Broken) }

// PoisonByKind counts the poison records per kind.
func (t *Topic) PoisonByKind() map[poison.Kind]int {
	m := map[poison.Kind]int{}
	for _, k := range t.Poison {
		m[k]++
	}
	return m
}

// EndOffsets lists the end offset of every partition of topic.
func EndOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	return listOffsets(ctx, adm.ListEndOffsets, topic)
}

func listOffsets(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error), topic string) (map[int32]int64, error) {
	listed, err := list(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	if err := listed.Error(); err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	if len(out) == 0 {
		return nil, fmt.Errorf("list offsets of %s: no partitions (does the topic exist?)", topic)
	}
	return out, nil
}

// ReadTopic reads every record of topic from the log start to the end
// offsets listed when it begins, read_committed, and decodes each one.
func ReadTopic(ctx context.Context, brokers []string, topic string) (*Topic, error) {
	base, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	adm := kadm.NewClient(base)
	t := &Topic{Name: topic, Valid: map[Coord]Row{}, Poison: map[Coord]poison.Kind{}, SchemaIDs: map[int]int{}}
	t.Starts, err = listOffsets(ctx, adm.ListStartOffsets, topic)
	if err == nil {
		t.Ends, err = EndOffsets(ctx, adm, topic)
	}
	base.Close()
	if err != nil {
		return nil, err
	}

	next := map[int32]int64{} // next offset still to see, per partition not done
	assign := map[int32]kgo.Offset{}
	for p, end := range t.Ends {
		if start := t.Starts[p]; start < end {
			next[p] = start
			assign[p] = kgo.NewOffset().At(start)
		}
	}
	if len(next) == 0 {
		return t, nil
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	defer cl.Close()
	for len(next) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s back (still to read: %v): %w", topic, next, err)
		}
		var fatal error
		fetches.EachError(func(_ string, p int32, err error) {
			// Retriable fetch errors are retried by the client; anything
			// surfacing here is worth stopping for.
			fatal = errors.Join(fatal, fmt.Errorf("fetch %s/%d: %w", topic, p, err))
		})
		if fatal != nil {
			return nil, fatal
		}
		fetches.EachRecord(func(r *kgo.Record) {
			want, ok := next[r.Partition]
			if !ok {
				return // past the end offsets we listed
			}
			if r.Offset >= want {
				next[r.Partition] = r.Offset + 1
			}
			if r.Offset >= t.Ends[r.Partition] {
				delete(next, r.Partition)
				return
			}
			t.add(r)
			if r.Offset+1 >= t.Ends[r.Partition] {
				delete(next, r.Partition)
			}
		})
	}
	return t, nil
}

func (t *Topic) add(r *kgo.Record) {
	c := Coord{r.Partition, r.Offset}
	if k := poison.KindOf(r.Headers); k != "" {
		t.Poison[c] = k
		return
	}
	row, err := Decode(r.Value)
	if err != nil {
		t.Broken = append(t.Broken, fmt.Sprintf("%s: %v", c, err))
		return
	}
	t.Valid[c] = row
	t.SchemaIDs[row.SchemaID]++
	t.AmountMinor += row.AmountMinor
}

// Decode reads a Confluent-framed finflow.v1.Transaction (message index [0])
// into the row the writer must store for it.
func Decode(value []byte) (Row, error) {
	var h sr.ConfluentHeader
	id, rest, err := h.DecodeID(value)
	if err != nil {
		return Row{}, fmt.Errorf("confluent header: %w", err)
	}
	index, payload, err := h.DecodeIndex(rest, 1)
	if err != nil {
		return Row{}, fmt.Errorf("message index: %w", err)
	}
	if len(index) != 1 || index[0] != 0 {
		return Row{}, fmt.Errorf("message index %v, want [0]", index)
	}
	var tx finflowv1.Transaction
	if err := proto.Unmarshal(payload, &tx); err != nil {
		return Row{}, fmt.Errorf("protobuf: %w", err)
	}
	return Row{
		TransactionID:       tx.GetTransactionId(),
		EventTime:           tx.GetEventTime().AsTime(),
		UserID:              tx.GetUserId(),
		AccountID:           tx.GetAccountId(),
		Merchant:            tx.GetMerchant(),
		Category:            enumText(tx.GetCategory().String(), "CATEGORY_"),
		MCC:                 int32(tx.GetMcc()),
		AmountMinor:         tx.GetAmountMinor(),
		Currency:            tx.GetCurrency(),
		Location:            tx.GetLocation(),
		Country:             tx.GetCountry(),
		Status:              enumText(tx.GetStatus().String(), "STATUS_"),
		Channel:             enumText(tx.GetChannel().String(), "CHANNEL_"),
		OriginalAmountMinor: tx.GetOriginalAmountMinor(),
		OriginalCurrency:    tx.GetOriginalCurrency(),
		MerchantID:          tx.GetMerchantId(),
		SchemaID:            id,
	}, nil
}

// enumText is the table's text for an enum value: the lower-case suffix of
// its name (CHANNEL_CHIP_AND_PIN → chip_and_pin).
func enumText(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}
