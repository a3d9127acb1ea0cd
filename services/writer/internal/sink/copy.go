package sink

import (
	"math/big"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/finflow/finflow/services/writer/internal/failpoint"
)

// rowColumns are the raw_transactions columns the writer fills, in COPY
// order; ingested_at takes its default.
var rowColumns = []string{
	"transaction_id", "event_time", "user_id", "account_id", "merchant", "category",
	"mcc", "amount", "currency", "location", "country", "status", "channel",
	"kafka_topic", "kafka_partition", "kafka_offset", "schema_id",
	"original_amount", "original_currency", "merchant_id",
}

// rowSource streams a batch's rows to pgx's binary COPY encoder. Values
// returns the same slice every time, filled with pointers to reusable value
// holders: pgx encodes a row before asking for the next, and a pointer in an
// interface costs no allocation, so the whole batch streams without building
// [][]any or boxing a single field.
type rowSource struct {
	rows []Row
	i    int
	vals []any

	id                                uuidValue
	eventTime                         timeValue
	user, account, merchant, category textValue
	currency, location, country       textValue
	status, channel, topic            textValue
	mcc, partition, offset, schemaID  intValue
	amount, originalAmount            amountValue
	originalCurrency, merchantID      textValue
	killAt                            int // failpoint "mid-copy": row index, or -1
}

func newRowSource(rows []Row) *rowSource {
	s := &rowSource{rows: rows, i: -1, killAt: -1}
	s.vals = []any{
		&s.id, &s.eventTime, &s.user, &s.account, &s.merchant, &s.category,
		&s.mcc, &s.amount, &s.currency, &s.location, &s.country, &s.status, &s.channel,
		&s.topic, &s.partition, &s.offset, &s.schemaID,
		&s.originalAmount, &s.originalCurrency, &s.merchantID,
	}
	s.originalCurrency.nullable, s.merchantID.nullable = true, true
	if failpoint.Enabled {
		s.killAt = len(rows) / 2
	}
	return s
}

func (s *rowSource) Next() bool {
	s.i++
	if s.i == s.killAt {
		failpoint.Inject("mid-copy")
	}
	return s.i < len(s.rows)
}

func (s *rowSource) Values() ([]any, error) {
	r := &s.rows[s.i]
	s.id.v = r.ID
	s.eventTime.v = r.EventTime
	s.user.v = r.UserID
	s.account.v = r.AccountID
	s.merchant.v = r.Merchant
	s.category.v = r.Category
	s.mcc.v = int64(r.MCC)
	s.amount.set(r.AmountMinor)
	s.originalAmount.set(r.OriginalAmountMinor)
	s.originalCurrency.v = r.OriginalCurrency
	s.merchantID.v = r.MerchantID
	s.currency.v = r.Currency
	s.location.v = r.Location
	s.country.v = r.Country
	s.status.v = r.Status
	s.channel.v = r.Channel
	s.topic.v = r.Src.Topic
	s.partition.v = int64(r.Src.Partition)
	s.offset.v = r.Src.Offset
	s.schemaID.v = int64(r.SchemaID)
	return s.vals, nil
}

func (s *rowSource) Err() error { return nil }

type uuidValue struct{ v [16]byte }

func (u *uuidValue) UUIDValue() (pgtype.UUID, error) {
	return pgtype.UUID{Bytes: u.v, Valid: true}, nil
}

type timeValue struct{ v time.Time }

func (t *timeValue) TimestamptzValue() (pgtype.Timestamptz, error) {
	return pgtype.Timestamptz{Time: t.v, Valid: true}, nil
}

// textValue is a text column; every NOT NULL one is validated non-empty or
// may be empty, and the nullable ones store "" as NULL.
type textValue struct {
	v        string
	nullable bool
}

func (t *textValue) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: t.v, Valid: !t.nullable || t.v != ""}, nil
}

// intValue serves the integer columns (int4 and int8): pgx range-checks an
// Int64Valuer against the column type.
type intValue struct{ v int64 }

func (i *intValue) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: i.v, Valid: true}, nil
}

// amountValue is minor units as an exact numeric with two decimals: the
// numeric column holds major units (pounds), so 1234 pence is 12.34.
// Amounts are validated positive, so 0 means "absent" and stores NULL (only
// the nullable original_amount column ever sees it).
type amountValue struct {
	n     big.Int
	valid bool
}

func (a *amountValue) set(minor int64) { a.n.SetInt64(minor); a.valid = minor != 0 }

func (a *amountValue) NumericValue() (pgtype.Numeric, error) {
	return pgtype.Numeric{Int: &a.n, Exp: -2, Valid: a.valid}, nil
}
