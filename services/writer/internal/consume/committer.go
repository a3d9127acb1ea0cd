package consume

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// committer mirrors database checkpoints to Kafka's group offsets, for lag
// tools (kadm, Burrow, kminion). The database is the truth; these commits
// are advice, so they run in the background, newest offset per partition
// wins, and a failure is only logged.
type committer struct {
	cl    *kgo.Client
	topic string
	log   *slog.Logger

	mu      sync.Mutex
	pending map[int32]kgo.EpochOffset
	wake    chan struct{}
}

func newCommitter(cl *kgo.Client, topic string, log *slog.Logger) *committer {
	return &committer{cl: cl, topic: topic, log: log,
		pending: map[int32]kgo.EpochOffset{}, wake: make(chan struct{}, 1)}
}

func (c *committer) offer(offsets map[int32]kgo.EpochOffset) {
	c.mu.Lock()
	for p, o := range offsets {
		if cur, ok := c.pending[p]; !ok || o.Offset > cur.Offset {
			c.pending[p] = o
		}
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// forget drops a pending commit of a partition this writer no longer owns.
func (c *committer) forget(p int32) {
	c.mu.Lock()
	delete(c.pending, p)
	c.mu.Unlock()
}

func (c *committer) take() map[int32]kgo.EpochOffset {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return nil
	}
	out := c.pending
	c.pending = map[int32]kgo.EpochOffset{}
	return out
}

// run commits until ctx ends, one commit at a time.
func (c *committer) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		if offs := c.take(); offs != nil {
			done := make(chan struct{})
			c.cl.CommitOffsets(ctx, map[string]map[int32]kgo.EpochOffset{c.topic: offs}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				c.result(resp, err)
				close(done)
			})
			<-done
		}
	}
}

// flush commits what is pending synchronously; used once at shutdown.
func (c *committer) flush(timeout time.Duration) {
	offs := c.take()
	if offs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{c.topic: offs}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		c.result(resp, err)
	})
}

func (c *committer) result(resp *kmsg.OffsetCommitResponse, err error) {
	if err == nil && resp != nil {
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil && err == nil {
					err = perr
				}
			}
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		c.log.Warn("advisory Kafka offset commit failed; the database checkpoint is unaffected", "err", err)
	}
}
