-- +goose Up
-- writer_checkpoints is the source of truth for how far each consumer group
-- has written each partition. It is advanced in the same transaction as the
-- rows, with a compare-and-set on next_offset, so a batch is stored exactly
-- once and a fenced (zombie) writer cannot commit a stale batch.
CREATE TABLE writer_checkpoints (
    consumer_group  text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL CONSTRAINT kafka_partition_nonneg CHECK (kafka_partition >= 0),
    -- The offset of the next record to write (last written offset + 1).
    next_offset     bigint      NOT NULL CONSTRAINT next_offset_nonneg CHECK (next_offset >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Which writer instance (host/pid/member) committed the checkpoint last.
    owner           text        NOT NULL,
    PRIMARY KEY (consumer_group, topic, kafka_partition)
);

-- +goose Down
DROP TABLE writer_checkpoints;
