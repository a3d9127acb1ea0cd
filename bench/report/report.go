// Package report turns benchmark measurements into the Markdown report: each
// headline figure as the median of its repetitions with the spread, next to
// its target and a MET / NOT MET verdict, followed by detail tables, charts
// and notes. Missing a target is information, never an error.
package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind says how a figure's values are measured and shown.
type Kind int

const (
	// Rate is a count per second, shown with thousands separators and Unit.
	Rate Kind = iota
	// Seconds is a duration in seconds, shown in milliseconds.
	Seconds
	// Bytes is a size in bytes, shown in MiB.
	Bytes
	// Ratio is a dimensionless ratio, shown as 0.00×.
	Ratio
)

// Format renders v of the kind, with unit appended to rates.
func Format(k Kind, unit string, v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	switch k {
	case Seconds:
		ms := v * 1000
		switch {
		case math.IsInf(ms, 1):
			return "+Inf"
		case ms < 10:
			return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
		case ms < 100:
			return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
		}
		return Thousands(ms) + " ms"
	case Bytes:
		return strconv.FormatFloat(v/(1<<20), 'f', 1, 64) + " MiB"
	case Ratio:
		return strconv.FormatFloat(v, 'f', 2, 64) + "×"
	}
	s := Thousands(v)
	if unit != "" {
		s += " " + unit
	}
	return s
}

// Thousands rounds v to an integer and groups its digits: 1234567 → "1,234,567".
func Thousands(v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	s := strconv.FormatInt(int64(math.Round(math.Abs(v))), 10)
	var b strings.Builder
	if v < 0 && math.Round(v) != 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Summary is the median of repeated measurements and their spread.
type Summary struct {
	Median, Min, Max float64
	N                int
}

// Summarise returns the median, minimum and maximum of values (N = 0 and NaNs
// for none). An even count's median is the mean of the middle two.
func Summarise(values []float64) Summary {
	if len(values) == 0 {
		return Summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(values)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Summary{Median: med, Min: s[0], Max: s[n-1], N: n}
}

// MedianIndex is the index in values of the repetition closest to the median
// (the lower middle one for an even count), e.g. to chart a typical run.
func MedianIndex(values []float64) int {
	if len(values) == 0 {
		return -1
	}
	idx := make([]int, len(values))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case values[a] < values[b]:
			return -1
		case values[a] > values[b]:
			return 1
		}
		return 0
	})
	return idx[(len(idx)-1)/2]
}

// Target is the goal a figure's median is judged against.
type Target struct {
	AtLeast bool // true: median ≥ Value meets it; false: median ≤ Value
	Value   float64
}

// Met reports whether v meets the target.
func (t Target) Met(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if t.AtLeast {
		return v >= t.Value
	}
	return v <= t.Value
}

// Figure is one headline number.
type Figure struct {
	Name   string
	Kind   Kind
	Unit   string    // for rates: "rows/s", "events/s"
	Values []float64 // one per repetition
	Target *Target   // nil: informational
	Note   string    // how it was measured, shown under the table
	Err    string    // why it could not be measured, if it could not
}

// Verdict is "MET", "NOT MET", "—" without a target, or "not measured".
func (f Figure) Verdict() string {
	if len(f.Values) == 0 {
		return "not measured"
	}
	if f.Target == nil {
		return "—"
	}
	if f.Target.Met(Summarise(f.Values).Median) {
		return "MET"
	}
	return "NOT MET"
}

func (f Figure) target() string {
	if f.Target == nil {
		return "—"
	}
	op := "≤"
	if f.Target.AtLeast {
		op = "≥"
	}
	return op + " " + Format(f.Kind, f.Unit, f.Target.Value)
}

// Fact is a named value: a line of the machine description or the settings.
type Fact struct{ Name, Value string }

// Table is a detail section.
type Table struct {
	Title  string
	Intro  string // Markdown paragraph before the table, optional
	Header []string
	Rows   [][]string
}

// Report is everything the Markdown report shows.
type Report struct {
	Title    string
	Started  time.Time
	Elapsed  time.Duration
	Command  string
	Machine  []Fact
	Settings []Fact
	Figures  []Figure
	Tables   []Table
	Charts   []string // image paths relative to the report
	Notes    []string
}

// Render writes the report as Markdown.
func Render(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	fmt.Fprintf(&b, "Run %s, took %s", r.Started.UTC().Format(time.RFC3339), r.Elapsed.Round(time.Second))
	if r.Command != "" {
		fmt.Fprintf(&b, ", with `%s`", r.Command)
	}
	b.WriteString(".\n\n")

	if len(r.Machine) > 0 {
		b.WriteString("## Machine\n\n")
		facts(&b, r.Machine)
	}
	if len(r.Settings) > 0 {
		b.WriteString("## Settings\n\n")
		facts(&b, r.Settings)
	}

	b.WriteString("## Results\n\n")
	b.WriteString("Median of the repetitions, spread is min–max. Targets are informational: a NOT MET never fails the run.\n\n")
	header := []string{"figure", "median", "spread (min–max)", "n", "target", "verdict"}
	var rows [][]string
	for _, f := range r.Figures {
		if len(f.Values) == 0 {
			rows = append(rows, []string{f.Name, "—", "—", "0", f.target(), "not measured"})
			continue
		}
		s := Summarise(f.Values)
		spread := Format(f.Kind, f.Unit, s.Min) + " – " + Format(f.Kind, f.Unit, s.Max)
		verdict := f.Verdict()
		if f.Target != nil {
			verdict = "**" + verdict + "**"
		}
		rows = append(rows, []string{f.Name, Format(f.Kind, f.Unit, s.Median), spread, strconv.Itoa(s.N), f.target(), verdict})
	}
	table(&b, header, rows)
	var notes []string
	for _, f := range r.Figures {
		switch {
		case f.Err != "":
			notes = append(notes, fmt.Sprintf("- **%s** not measured: %s", f.Name, f.Err))
		case f.Note != "":
			notes = append(notes, fmt.Sprintf("- **%s**: %s", f.Name, f.Note))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
	}

	for _, t := range r.Tables {
		fmt.Fprintf(&b, "\n## %s\n\n", t.Title)
		if t.Intro != "" {
			b.WriteString(t.Intro + "\n\n")
		}
		table(&b, t.Header, t.Rows)
	}
	if len(r.Charts) > 0 {
		b.WriteString("\n## Charts\n\n")
		for _, c := range r.Charts {
			fmt.Fprintf(&b, "![%s](%s)\n\n", c, c)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func facts(b *strings.Builder, fs []Fact) {
	rows := make([][]string, len(fs))
	for i, f := range fs {
		rows[i] = []string{f.Name, f.Value}
	}
	table(b, []string{"", ""}, rows)
	b.WriteString("\n")
}

func table(b *strings.Builder, header []string, rows [][]string) {
	line := func(cells []string) {
		b.WriteString("|")
		for i := range header {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			b.WriteString(" " + cell(c) + " |")
		}
		b.WriteString("\n")
	}
	line(header)
	b.WriteString("|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		line(r)
	}
}

// cell keeps a value on one table row: pipes would start a new column and
// newlines a new paragraph.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
