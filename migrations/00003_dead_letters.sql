-- +goose Up
-- dead_letters keeps every record that could not become a valid row, with its
-- raw bytes and coordinates, so nothing is dropped silently and it can be
-- replayed once the cause is fixed.
CREATE TABLE dead_letters (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kafka_topic     text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    record_key      bytea,
    record_value    bytea,
    -- Record headers as a JSON array of {"key": text, "value": base64}.
    headers         jsonb       NOT NULL DEFAULT '[]'::jsonb,
    record_time     timestamptz,
    schema_id       integer,
    reason          text        NOT NULL CONSTRAINT reason_known CHECK (reason IN (
                        'bad_framing', 'unknown_schema', 'schema_mismatch',
                        'undecodable', 'invalid_value', 'constraint_violation')),
    error           text        NOT NULL,
    consumer_group  text        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dead_letters_coordinates_key UNIQUE (kafka_topic, kafka_partition, kafka_offset)
);

CREATE INDEX dead_letters_reason_idx ON dead_letters (reason, received_at);

-- +goose Down
DROP TABLE dead_letters;
