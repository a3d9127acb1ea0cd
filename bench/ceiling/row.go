// Package ceiling measures the fastest PostgreSQL can take finflow's rows:
// binary COPY of rows already mapped to raw_transactions' columns, into the
// real table (same indexes and constraints), with one or more connections.
// The writer's drain rate is judged against it.
package ceiling

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
)

// Columns are raw_transactions' columns in COPY order. ingested_at is left to
// its default, now(), as a writer leaves it.
var Columns = []string{
	"transaction_id", "event_time", "user_id", "account_id", "merchant", "category", "mcc",
	"amount", "currency", "location", "country", "status", "channel",
	"kafka_topic", "kafka_partition", "kafka_offset", "schema_id",
}

// Row is one raw_transactions row with every value already in the Go type
// pgx encodes in binary, so a COPY spends no time on mapping.
type Row struct {
	TransactionID pgtype.UUID
	EventTime     time.Time
	UserID        string
	AccountID     string
	Merchant      string
	Category      string
	MCC           int32
	Amount        pgtype.Numeric
	Currency      string
	Location      string
	Country       string
	Status        string
	Channel       string
	Topic         string
	Partition     int32
	Offset        int64
	SchemaID      int32
}

// values fills dst (len(Columns)) with the row's values.
func (r *Row) values(dst []any) {
	dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6] = r.TransactionID, r.EventTime, r.UserID, r.AccountID, r.Merchant, r.Category, r.MCC
	dst[7], dst[8], dst[9], dst[10], dst[11], dst[12] = r.Amount, r.Currency, r.Location, r.Country, r.Status, r.Channel
	dst[13], dst[14], dst[15], dst[16] = r.Topic, r.Partition, r.Offset, r.SchemaID
}

// Coordinates are where a record sits on Kafka, for the lineage columns.
type Coordinates struct {
	Topic     string
	Partition int32
	Offset    int64
	SchemaID  int32
}

// FromTransaction maps a transaction to its row: enums to the table's lower
// case text (CATEGORY_GROCERIES → "groceries", CHANNEL_CHIP_AND_PIN →
// "chip_and_pin"), amount_minor to numeric major units with two decimals,
// event_time to a UTC instant.
func FromTransaction(tx *finflowv1.Transaction, at Coordinates) (Row, error) {
	var id pgtype.UUID
	if err := id.Scan(tx.GetTransactionId()); err != nil {
		return Row{}, fmt.Errorf("transaction_id %q: %w", tx.GetTransactionId(), err)
	}
	if tx.GetEventTime() == nil {
		return Row{}, errors.New("event_time is not set")
	}
	category, err := enumText(finflowv1.Category_name, int32(tx.GetCategory()), "CATEGORY_")
	if err != nil {
		return Row{}, fmt.Errorf("category: %w", err)
	}
	status, err := enumText(finflowv1.Status_name, int32(tx.GetStatus()), "STATUS_")
	if err != nil {
		return Row{}, fmt.Errorf("status: %w", err)
	}
	channel, err := enumText(finflowv1.Channel_name, int32(tx.GetChannel()), "CHANNEL_")
	if err != nil {
		return Row{}, fmt.Errorf("channel: %w", err)
	}
	if tx.GetMcc() > 9999 {
		return Row{}, fmt.Errorf("mcc %d is not 0-9999", tx.GetMcc())
	}
	return Row{
		TransactionID: id,
		EventTime:     tx.GetEventTime().AsTime(),
		UserID:        tx.GetUserId(),
		AccountID:     tx.GetAccountId(),
		Merchant:      tx.GetMerchant(),
		Category:      category,
		MCC:           int32(tx.GetMcc()),
		// Pence to pounds exactly: the integer with a decimal exponent of -2.
		Amount:    pgtype.Numeric{Int: big.NewInt(tx.GetAmountMinor()), Exp: -2, Valid: true},
		Currency:  tx.GetCurrency(),
		Location:  tx.GetLocation(),
		Country:   tx.GetCountry(),
		Status:    status,
		Channel:   channel,
		Topic:     at.Topic,
		Partition: at.Partition,
		Offset:    at.Offset,
		SchemaID:  at.SchemaID,
	}, nil
}

func enumText(names map[int32]string, v int32, prefix string) (string, error) {
	name, ok := names[v]
	if !ok || v == 0 {
		return "", fmt.Errorf("value %d is unset or unknown", v)
	}
	return strings.ToLower(strings.TrimPrefix(name, prefix)), nil
}
