package audit

import (
	"context"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Table is a small result table for a terminal.
type Table struct {
	Title  string
	Header []string
	// Right marks the columns to right-align (numbers).
	Right []bool
	Rows  [][]string
	Note  string // printed under the table, when set
}

// Render writes the table with aligned columns.
func (t Table) Render(w io.Writer) {
	widths := make([]int, len(t.Header))
	for i, h := range t.Header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.Rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range cells {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if i < len(t.Right) && t.Right[i] {
				b.WriteString(pad + c)
			} else if i < len(cells)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
	fmt.Fprintln(w, t.Title)
	line(t.Header)
	rule := make([]string, len(widths))
	for i, n := range widths {
		rule[i] = strings.Repeat("-", n)
	}
	line(rule)
	for _, r := range t.Rows {
		line(r)
	}
	if len(t.Rows) == 0 {
		fmt.Fprintln(w, "  (no rows)")
	}
	if t.Note != "" {
		fmt.Fprintln(w, "  "+t.Note)
	}
}

// Report runs the business queries of the summary over the rows of topic.
// Money is summed as numeric and rendered from its text, never a float.
func Report(ctx context.Context, conn *pgx.Conn, topic string) ([]Table, error) {
	var out []Table
	var otherCurrencies int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM raw_transactions WHERE kafka_topic = $1 AND currency <> 'GBP'`, topic).Scan(&otherCurrencies); err != nil {
		return nil, fmt.Errorf("count other currencies: %w", err)
	}
	gbpNote := ""
	if otherCurrencies > 0 {
		gbpNote = fmt.Sprintf("GBP only; %s transactions in other currencies are not summed with pounds.", thousands(fmt.Sprint(otherCurrencies)))
	}

	t, err := query(ctx, conn, Table{
		Title:  "Spend by category (completed, GBP)",
		Header: []string{"category", "transactions", "spend £", "average £"},
		Right:  []bool{false, true, true, true},
		Note:   gbpNote,
	}, `
		SELECT category, count(*)::text, sum(amount)::text, round(avg(amount), 2)::text
		FROM raw_transactions
		WHERE kafka_topic = $1 AND status = 'completed' AND currency = 'GBP'
		GROUP BY category ORDER BY sum(amount) DESC, category`, topic)
	if err != nil {
		return nil, fmt.Errorf("spend by category: %w", err)
	}
	out = append(out, t)

	t, err = query(ctx, conn, Table{
		Title:  "Top merchants (completed, GBP)",
		Header: []string{"merchant", "transactions", "spend £"},
		Right:  []bool{false, true, true},
	}, `
		SELECT merchant, count(*)::text, sum(amount)::text
		FROM raw_transactions
		WHERE kafka_topic = $1 AND status = 'completed' AND currency = 'GBP'
		GROUP BY merchant ORDER BY sum(amount) DESC, merchant LIMIT 8`, topic)
	if err != nil {
		return nil, fmt.Errorf("top merchants: %w", err)
	}
	out = append(out, t)

	t, err = query(ctx, conn, Table{
		Title:  "Transactions by city (top 8)",
		Header: []string{"city", "transactions", "share %", "declined %"},
		Right:  []bool{false, true, true, true},
	}, `
		SELECT coalesce(nullif(location, ''), '(none)'), count(*)::text,
		       round(100.0 * count(*) / sum(count(*)) OVER (), 1)::text,
		       round(100.0 * count(*) FILTER (WHERE status = 'declined') / count(*), 1)::text
		FROM raw_transactions WHERE kafka_topic = $1
		GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 8`, topic)
	if err != nil {
		return nil, fmt.Errorf("transactions by city: %w", err)
	}
	out = append(out, t)

	t, err = query(ctx, conn, Table{
		Title:  "Decline rate by channel",
		Header: []string{"channel", "transactions", "declined", "decline rate %"},
		Right:  []bool{false, true, true, true},
	}, `
		SELECT coalesce(channel, 'all channels'), count(*)::text,
		       count(*) FILTER (WHERE status = 'declined')::text,
		       coalesce(round(100.0 * count(*) FILTER (WHERE status = 'declined') / nullif(count(*), 0), 2)::text, '-')
		FROM raw_transactions WHERE kafka_topic = $1
		GROUP BY ROLLUP (channel) ORDER BY (channel IS NULL), count(*) DESC, channel`, topic)
	if err != nil {
		return nil, fmt.Errorf("decline rate: %w", err)
	}
	out = append(out, t)
	return out, nil
}

// query fills t's rows from a query whose columns are all text.
func query(ctx context.Context, conn *pgx.Conn, t Table, sql string, args ...any) (Table, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return t, err
	}
	defer rows.Close()
	for rows.Next() {
		cells := make([]string, len(t.Header))
		ptrs := make([]any, len(cells))
		for i := range cells {
			ptrs[i] = &cells[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return t, err
		}
		for i := range cells {
			if i < len(t.Right) && t.Right[i] {
				cells[i] = thousands(cells[i])
			}
		}
		t.Rows = append(t.Rows, cells)
	}
	return t, rows.Err()
}

// thousands groups the integer digits of a decimal string: 1234567.5 →
// 1,234,567.5.
func thousands(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}
