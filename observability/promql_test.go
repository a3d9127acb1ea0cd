package observability

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// promqlRefs returns the metric names and the Grafana variables ($name,
// ${name}, ${name:format}) an expression uses. It is a lexer, not a parser:
// enough to tell metric names from functions, aggregations, keywords, label
// names, strings and durations. Whether the expression parses is checked by
// a real Prometheus (TestDashboardsAgainstPrometheus) and by promtool.
func promqlRefs(expr string) (metrics, vars []string, err error) {
	toks, err := lexPromQL(expr)
	if err != nil {
		return nil, nil, err
	}
	var braces, brackets, parens int
	seenM, seenV := map[string]bool{}, map[string]bool{}
	next := func(i int) token {
		if i+1 < len(toks) {
			return toks[i+1]
		}
		return token{}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t.kind {
		case tokVar:
			if !seenV[t.text] {
				seenV[t.text] = true
				vars = append(vars, t.text)
			}
		case tokPunct:
			switch t.text {
			case "{":
				braces++
			case "}":
				braces--
			case "[":
				brackets++
			case "]":
				brackets--
			case "(":
				parens++
			case ")":
				parens--
			}
			if braces < 0 || brackets < 0 || parens < 0 {
				return nil, nil, fmt.Errorf("unbalanced %q in %q", t.text, expr)
			}
		case tokIdent:
			if braces > 0 || brackets > 0 {
				continue // label names, durations
			}
			word := strings.ToLower(t.text)
			if groupingKeywords[word] {
				if next(i).text == "(" { // skip the label list
					depth := 0
					for i++; i < len(toks); i++ {
						if toks[i].kind == tokVar && !seenV[toks[i].text] {
							seenV[toks[i].text] = true
							vars = append(vars, toks[i].text)
						}
						if toks[i].text == "(" {
							depth++
						} else if toks[i].text == ")" {
							depth--
							if depth == 0 {
								break
							}
						}
					}
					if depth != 0 {
						return nil, nil, fmt.Errorf("unbalanced label list after %s in %q", word, expr)
					}
				}
				continue
			}
			if keywords[word] {
				continue
			}
			if n := next(i); n.text == "(" || (aggregations[word] && n.kind == tokIdent && groupingKeywords[strings.ToLower(n.text)]) {
				continue // a function or an aggregation
			}
			if !seenM[t.text] {
				seenM[t.text] = true
				metrics = append(metrics, t.text)
			}
		}
	}
	if braces != 0 || brackets != 0 || parens != 0 {
		return nil, nil, fmt.Errorf("unbalanced brackets in %q", expr)
	}
	return metrics, vars, nil
}

var (
	groupingKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	keywords         = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true}
	aggregations     = map[string]bool{
		"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true,
		"count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
	}
)

// stringVar matches a Grafana variable: $name or ${name[:format]}.
var stringVar = regexp.MustCompile(`\$(?:\{([^}]+)\}|([A-Za-z_][A-Za-z0-9_]*))`)

type tokKind int

const (
	tokNone tokKind = iota
	tokIdent
	tokVar
	tokString
	tokNumber
	tokPunct
)

type token struct {
	kind tokKind
	text string
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func lexPromQL(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && c != '`' {
					j++
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at offset %d in %q", i, s)
			}
			out = append(out, token{tokString, s[i+1 : j]})
			// Grafana interpolates variables inside label values too.
			for _, m := range stringVar.FindAllStringSubmatch(s[i+1:j], -1) {
				name, _, _ := strings.Cut(m[1]+m[2], ":")
				out = append(out, token{tokVar, name})
			}
			i = j + 1
		case c == '$':
			j := i + 1
			if j < len(s) && s[j] == '{' {
				end := strings.IndexByte(s[j:], '}')
				if end < 0 {
					return nil, fmt.Errorf("unterminated ${ at offset %d in %q", i, s)
				}
				name, _, _ := strings.Cut(s[j+1:j+end], ":")
				out = append(out, token{tokVar, name})
				i = j + end + 1
				continue
			}
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("lone $ at offset %d in %q", i, s)
			}
			out = append(out, token{tokVar, s[i+1 : j]})
			i = j
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			j := i
			for j < len(s) && (isIdent(s[j]) || s[j] == '.') {
				j++
			}
			out = append(out, token{tokNumber, s[i:j]})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			out = append(out, token{tokIdent, s[i:j]})
			i = j
		default:
			out = append(out, token{tokPunct, string(c)})
			i++
		}
	}
	return out, nil
}

func TestPromQLRefs(t *testing.T) {
	for _, tc := range []struct {
		expr          string
		metrics, vars []string
	}{
		{`up{job="writer"} == 0`, []string{"up"}, nil},
		{`sum by (topic) (rate(finflow_producer_records_total{topic=~"$topic"}[$__rate_interval]))`,
			[]string{"finflow_producer_records_total"}, []string{"topic", "__rate_interval"}},
		{`histogram_quantile(0.99, sum by (le) (rate(finflow_writer_commit_duration_seconds_bucket[5m])))`,
			[]string{"finflow_writer_commit_duration_seconds_bucket"}, nil},
		{`(max by (topic, partition) (a_seconds) > 120) and on (topic, partition) (max by(topic,partition)(b_records) > 0)`,
			[]string{"a_seconds", "b_records"}, nil},
		{`sum without (instance) (x) / ignoring(le) group_left(job) y offset 5m`, []string{"x", "y"}, nil},
		{`sum(x) by (job) or vector(0) unless absent(z{a="b c"}) # comment with name_total`, []string{"x", "z"}, nil},
		{`max(go_gc_duration_seconds{quantile="1"}) + count(process_cpu_seconds_total) * Inf`,
			[]string{"go_gc_duration_seconds", "process_cpu_seconds_total"}, nil},
		{`rate(x[${__rate_interval}]) + rate(x[${win:text}])`, []string{"x"}, []string{"__rate_interval", "win"}},
		{`topk(5, sum by (topic) (foo:bar_total))`, []string{"foo:bar_total"}, nil},
	} {
		m, v, err := promqlRefs(tc.expr)
		if err != nil {
			t.Errorf("promqlRefs(%q): %v", tc.expr, err)
			continue
		}
		if !reflect.DeepEqual(m, tc.metrics) || !reflect.DeepEqual(v, tc.vars) {
			t.Errorf("promqlRefs(%q) = metrics %q vars %q, want %q %q", tc.expr, m, v, tc.metrics, tc.vars)
		}
	}
	for _, bad := range []string{`sum(rate(x[5m])`, `x{a="b}`, `rate(x[5m]))`, `x{a="b"}}`} {
		if _, _, err := promqlRefs(bad); err == nil {
			t.Errorf("promqlRefs(%q) accepted an unbalanced expression", bad)
		}
	}
}

// unknownMetrics lists the metric names expr uses that are not in ref.
func unknownMetrics(ref map[string]string, expr string) ([]string, error) {
	m, _, err := promqlRefs(expr)
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, name := range m {
		if !knownMetric(ref, name) {
			bad = append(bad, name)
		}
	}
	slices.Sort(bad)
	return bad, nil
}
