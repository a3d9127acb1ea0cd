package decode

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	"github.com/finflow/finflow/services/writer/internal/sink"
)

// The table's text for each enum value (migrations/00001's CHECK sets),
// indexed by the enum number; "" is not allowed. A value added to the
// contract but not to the table stays "" and is rejected here rather than
// by the database.
var (
	categories = [...]string{
		finflowv1.Category_CATEGORY_GROCERIES:     "groceries",
		finflowv1.Category_CATEGORY_TRANSPORT:     "transport",
		finflowv1.Category_CATEGORY_DINING:        "dining",
		finflowv1.Category_CATEGORY_SHOPPING:      "shopping",
		finflowv1.Category_CATEGORY_BILLS:         "bills",
		finflowv1.Category_CATEGORY_SUBSCRIPTIONS: "subscriptions",
		finflowv1.Category_CATEGORY_ENTERTAINMENT: "entertainment",
		finflowv1.Category_CATEGORY_HEALTH:        "health",
		finflowv1.Category_CATEGORY_TRAVEL:        "travel",
		finflowv1.Category_CATEGORY_HOUSING:       "housing",
		finflowv1.Category_CATEGORY_CASH:          "cash",
		finflowv1.Category_CATEGORY_TRANSFER:      "transfer",
	}
	statuses = [...]string{
		finflowv1.Status_STATUS_COMPLETED: "completed",
		finflowv1.Status_STATUS_PENDING:   "pending",
		finflowv1.Status_STATUS_DECLINED:  "declined",
		finflowv1.Status_STATUS_REVERSED:  "reversed",
	}
	channels = [...]string{
		finflowv1.Channel_CHANNEL_CONTACTLESS:     "contactless",
		finflowv1.Channel_CHANNEL_CHIP_AND_PIN:    "chip_and_pin",
		finflowv1.Channel_CHANNEL_ONLINE:          "online",
		finflowv1.Channel_CHANNEL_FASTER_PAYMENTS: "faster_payments",
		finflowv1.Channel_CHANNEL_DIRECT_DEBIT:    "direct_debit",
		finflowv1.Channel_CHANNEL_STANDING_ORDER:  "standing_order",
		finflowv1.Channel_CHANNEL_ATM:             "atm",
	}
)

// minorDigits lists the ISO 4217 currencies whose minor unit is not 1/100.
// The table stores amount_minor/100, which would silently misstate them by a
// factor of 10 or more, so they are rejected.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// maxAmountMinor keeps amount (major units) below the table's 1e12 bound.
const maxAmountMinor = 100_000_000_000_000

// validate applies the rules of raw_transactions' CHECK constraints (and the
// column types) to m and fills row. It returns "" when m is valid, else what
// is wrong, naming the field.
func validate(m *finflowv1.Transaction, row *sink.Row) string {
	var ok bool
	if row.ID, ok = parseUUID(m.TransactionId); !ok {
		return "transaction_id " + quote(m.TransactionId) + " is not a UUID (8-4-4-4-12 hex)"
	}
	ts := m.EventTime
	if ts == nil {
		return "event_time is not set"
	}
	if err := ts.CheckValid(); err != nil {
		return "event_time: " + err.Error()
	}
	row.EventTime = time.Unix(ts.Seconds, int64(ts.Nanos)).UTC()

	if msg := text("user_id", m.UserId, 1, 64); msg != "" {
		return msg
	}
	if msg := text("account_id", m.AccountId, 1, 64); msg != "" {
		return msg
	}
	if msg := text("merchant", m.Merchant, 1, 128); msg != "" {
		return msg
	}
	if msg := text("location", m.Location, 0, 128); msg != "" {
		return msg
	}
	row.UserID, row.AccountID, row.Merchant, row.Location = m.UserId, m.AccountId, m.Merchant, m.Location

	if row.Category = enumText(categories[:], int32(m.Category)); row.Category == "" {
		return fmt.Sprintf("category %s is not a known category", m.Category)
	}
	if row.Status = enumText(statuses[:], int32(m.Status)); row.Status == "" {
		return fmt.Sprintf("status %s is not a known status", m.Status)
	}
	if row.Channel = enumText(channels[:], int32(m.Channel)); row.Channel == "" {
		return fmt.Sprintf("channel %s is not a known channel", m.Channel)
	}
	if m.Mcc > 9999 {
		return fmt.Sprintf("mcc %d is not between 0 and 9999", m.Mcc)
	}
	row.MCC = int32(m.Mcc)
	if m.AmountMinor <= 0 || m.AmountMinor >= maxAmountMinor {
		return fmt.Sprintf("amount_minor %d is not between 1 and %d", m.AmountMinor, maxAmountMinor-1)
	}
	row.AmountMinor = m.AmountMinor
	if !upper(m.Currency, 3) {
		return "currency " + quote(m.Currency) + " is not three upper-case letters (ISO 4217)"
	}
	if d, odd := minorDigits[m.Currency]; odd {
		return fmt.Sprintf("currency %s has %d minor-unit digits; amounts are stored with 2", m.Currency, d)
	}
	if !upper(m.Country, 2) {
		return "country " + quote(m.Country) + " is not two upper-case letters (ISO 3166-1 alpha-2)"
	}
	row.Currency, row.Country = m.Currency, m.Country
	return validateRevision2(m, row)
}

// validateRevision2 checks the fields added in contract revision 2. They are
// optional: messages from older producers leave them unset (NULL columns).
func validateRevision2(m *finflowv1.Transaction, row *sink.Row) string {
	row.OriginalAmountMinor, row.OriginalCurrency, row.MerchantID = 0, "", ""
	if m.OriginalAmountMinor != 0 || m.OriginalCurrency != "" {
		if m.OriginalAmountMinor <= 0 || m.OriginalAmountMinor >= maxAmountMinor {
			return fmt.Sprintf("original_amount_minor %d is not between 1 and %d", m.OriginalAmountMinor, maxAmountMinor-1)
		}
		if !upper(m.OriginalCurrency, 3) {
			return "original_currency " + quote(m.OriginalCurrency) + " is not three upper-case letters (ISO 4217), as original_amount_minor is set"
		}
		if d, odd := minorDigits[m.OriginalCurrency]; odd {
			return fmt.Sprintf("original_currency %s has %d minor-unit digits; amounts are stored with 2", m.OriginalCurrency, d)
		}
		row.OriginalAmountMinor, row.OriginalCurrency = m.OriginalAmountMinor, m.OriginalCurrency
	}
	if m.MerchantId != "" {
		if msg := text("merchant_id", m.MerchantId, 1, 64); msg != "" {
			return msg
		}
		row.MerchantID = m.MerchantId
	}
	return ""
}

// text checks a string column: length in characters (as PostgreSQL's
// length() counts them) and no NUL, which text cannot store.
func text(field, s string, lo, hi int) string {
	// Fast path: byte length bounds the character count from above.
	n := len(s)
	if n > hi {
		n = utf8.RuneCountInString(s)
	}
	if n < lo || n > hi {
		if lo == 0 {
			return fmt.Sprintf("%s is %d characters, more than %d", field, n, hi)
		}
		return fmt.Sprintf("%s is %d characters, want %d to %d", field, n, lo, hi)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return field + " contains a NUL character"
	}
	return ""
}

func enumText(names []string, v int32) string {
	if v <= 0 || int(v) >= len(names) {
		return ""
	}
	return names[v]
}

func upper(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// parseUUID reads the canonical 8-4-4-4-12 hex form, either case.
func parseUUID(s string) (id [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return id, false
		}
		id[j] = hi<<4 | lo
		j++
		i += 2
	}
	return id, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// quote renders a value for an error message, truncated: error texts are
// stored with the dead letter and should stay short.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q...", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}
