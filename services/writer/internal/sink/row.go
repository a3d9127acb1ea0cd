package sink

import "time"

// Reason says why a record became a dead letter. The values are the CHECK set
// of dead_letters.reason and the README's list; nothing else may be written.
type Reason string

// Dead-letter reasons.
const (
	ReasonBadFraming          Reason = "bad_framing"          // no Confluent header
	ReasonUnknownSchema       Reason = "unknown_schema"       // schema id the registry does not know
	ReasonSchemaMismatch      Reason = "schema_mismatch"      // the id names a schema that is not finflow.v1.Transaction
	ReasonUndecodable         Reason = "undecodable"          // protobuf does not parse
	ReasonInvalidValue        Reason = "invalid_value"        // fails validation
	ReasonConstraintViolation Reason = "constraint_violation" // rejected by the database after validation
)

// Reasons lists every dead-letter reason.
var Reasons = []Reason{
	ReasonBadFraming, ReasonUnknownSchema, ReasonSchemaMismatch,
	ReasonUndecodable, ReasonInvalidValue, ReasonConstraintViolation,
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Source is where a record came from and its raw bytes. Rows keep it so that
// a row the database rejects can still be dead-lettered with its bytes.
// Key, Value and Headers are not copied: they alias the consumer's record
// until the batch is written.
type Source struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time // the Kafka record timestamp
}

// Row is one raw_transactions row, already validated against the table's
// CHECK constraints. Enumerations are the table's text values; money is
// integer minor units, stored as AmountMinor/100 in the numeric column.
type Row struct {
	ID          [16]byte // transaction_id
	EventTime   time.Time
	UserID      string
	AccountID   string
	Merchant    string
	Category    string
	MCC         int32
	AmountMinor int64
	Currency    string
	Location    string
	Country     string
	Status      string
	Channel     string
	SchemaID    int32
	// Contract revision 2 (nullable columns): 0 / "" store NULL, as for
	// messages from producers that predate them.
	OriginalAmountMinor int64  // original_amount, with OriginalCurrency
	OriginalCurrency    string // original_currency
	MerchantID          string // merchant_id
	// UnknownFields is set when the message carried fields this writer's
	// contract does not know (a newer producer); the row is still written.
	UnknownFields bool
	Src           Source
}

// DeadLetter is one dead_letters row.
type DeadLetter struct {
	Src         Source
	SchemaID    int32
	HasSchemaID bool // the frame carried a schema id
	Reason      Reason
	Err         string
}

// NoCheckpoint is Checkpoint.Expected when the writer believes the partition
// has no checkpoint row yet.
const NoCheckpoint int64 = -1

// Checkpoint is the compare-and-set of one partition's next_offset: the
// batch commits only if the row still holds Expected.
type Checkpoint struct {
	Partition int32
	Expected  int64 // NoCheckpoint: the row must not exist yet
	Next      int64 // last offset in the batch + 1
}

// Batch is what one database transaction writes. Every partition that has a
// row or dead letter in the batch must have a Checkpoint.
type Batch struct {
	Rows        []Row
	DeadLetters []DeadLetter
	Checkpoints []Checkpoint
}

// Result is what a committed batch wrote.
type Result struct {
	Inserted   int64 // rows inserted into raw_transactions
	Duplicates int64 // rows skipped because their transaction_id was already stored
	// Rejected are rows the database refused (constraint_violation); they
	// were committed to dead_letters with the batch's other dead letters.
	Rejected []DeadLetter
	// DeadLettersInserted counts dead_letters rows inserted, Rejected included.
	DeadLettersInserted int64
}
