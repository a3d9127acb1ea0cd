-- +goose Up
-- raw_transactions holds one row per valid Transaction event, exactly once.
-- Money is numeric with at most two decimals (never float); time is timestamptz.
-- Lineage columns say where each row came from on Kafka.
CREATE TABLE raw_transactions (
    transaction_id  uuid        PRIMARY KEY,
    event_time      timestamptz NOT NULL,
    user_id         text        NOT NULL CONSTRAINT user_id_present CHECK (length(user_id) BETWEEN 1 AND 64),
    account_id      text        NOT NULL CONSTRAINT account_id_present CHECK (length(account_id) BETWEEN 1 AND 64),
    merchant        text        NOT NULL CONSTRAINT merchant_present CHECK (length(merchant) BETWEEN 1 AND 128),
    category        text        NOT NULL CONSTRAINT category_known CHECK (category IN (
                        'groceries', 'transport', 'dining', 'shopping', 'bills', 'subscriptions',
                        'entertainment', 'health', 'travel', 'housing', 'cash', 'transfer')),
    mcc             integer     NOT NULL CONSTRAINT mcc_range CHECK (mcc BETWEEN 0 AND 9999),
    -- Major units (pounds); the scale check rejects sub-penny amounts instead of rounding them.
    amount          numeric     NOT NULL CONSTRAINT amount_positive_2dp CHECK (
                        amount > 0 AND amount < 1000000000000 AND scale(amount) <= 2),
    currency        char(3)     NOT NULL CONSTRAINT currency_iso4217 CHECK (currency ~ '^[A-Z]{3}$'),
    location        text        NOT NULL CONSTRAINT location_length CHECK (length(location) <= 128),
    country         char(2)     NOT NULL CONSTRAINT country_iso3166 CHECK (country ~ '^[A-Z]{2}$'),
    status          text        NOT NULL CONSTRAINT status_known CHECK (status IN (
                        'completed', 'pending', 'declined', 'reversed')),
    channel         text        NOT NULL CONSTRAINT channel_known CHECK (channel IN (
                        'contactless', 'chip_and_pin', 'online', 'faster_payments',
                        'direct_debit', 'standing_order', 'atm')),
    kafka_topic     text        NOT NULL,
    kafka_partition integer     NOT NULL CONSTRAINT kafka_partition_nonneg CHECK (kafka_partition >= 0),
    kafka_offset    bigint      NOT NULL CONSTRAINT kafka_offset_nonneg CHECK (kafka_offset >= 0),
    schema_id       integer     NOT NULL,
    ingested_at     timestamptz NOT NULL DEFAULT now()
);

-- Time-range scans (dashboards, daily reports).
CREATE INDEX raw_transactions_event_time_idx ON raw_transactions (event_time);
-- One customer's history, newest first.
CREATE INDEX raw_transactions_user_time_idx ON raw_transactions (user_id, event_time DESC);

-- +goose Down
DROP TABLE raw_transactions;
