package observability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// promAPI is a minimal client of Prometheus' HTTP API (/api/v1).
type promAPI struct{ base string }

type apiResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

// APIError is an error answer from Prometheus; ErrorType bad_data means the
// query does not parse (or is invalid).
type APIError struct{ Type, Msg string }

func (e *APIError) Error() string { return e.Type + ": " + e.Msg }

func (c promAPI) get(ctx context.Context, path string, params url.Values, into any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// GET: every endpoint takes it (the targets and rules ones nothing else).
	u := c.base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("prometheus %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("prometheus %s: %w", path, err)
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("prometheus %s: HTTP %d, not JSON: %.200s", path, resp.StatusCode, body)
	}
	if r.Status != "success" {
		return &APIError{Type: r.ErrorType, Msg: r.Error}
	}
	return json.Unmarshal(r.Data, into)
}

// sample is one instant-vector element.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) float() float64 {
	str, _ := s.Value[1].(string)
	f, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// instant evaluates expr now. Scalars come back as one sample.
func (c promAPI) instant(ctx context.Context, expr string) ([]sample, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := c.get(ctx, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	switch data.ResultType {
	case "vector":
		var out []sample
		return out, json.Unmarshal(data.Result, &out)
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return nil, err
		}
		return []sample{{Value: v}}, nil
	default:
		return nil, fmt.Errorf("result type %s, want vector or scalar", data.ResultType)
	}
}

// labelValues lists the values of label, optionally only on series match.
func (c promAPI) labelValues(ctx context.Context, label, match string) ([]string, error) {
	params := url.Values{}
	if match != "" {
		params.Set("match[]", match)
	}
	var out []string
	err := c.get(ctx, "/api/v1/label/"+url.PathEscape(label)+"/values", params, &out)
	return out, err
}

type ruleState struct {
	Name      string `json:"name"`
	Query     string `json:"query"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
	Type      string `json:"type"`
}

func (c promAPI) rules(ctx context.Context) ([]ruleState, error) {
	var data struct {
		Groups []struct {
			Rules []ruleState `json:"rules"`
		} `json:"groups"`
	}
	if err := c.get(ctx, "/api/v1/rules", nil, &data); err != nil {
		return nil, err
	}
	var out []ruleState
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

type targetState struct {
	Labels    map[string]string `json:"labels"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
	ScrapeURL string            `json:"scrapeUrl"`
}

func (c promAPI) targets(ctx context.Context) ([]targetState, error) {
	var data struct {
		Active []targetState `json:"activeTargets"`
	}
	err := c.get(ctx, "/api/v1/targets", nil, &data)
	return data.Active, err
}

// evaluateQuery says why expr fails the check ("" when it passes) and
// whether that is final: a parse error is, missing data may not be yet.
func evaluateQuery(ctx context.Context, c promAPI, expr string, needData bool) (problem string, final bool) {
	samples, err := c.instant(ctx, expr)
	if err != nil {
		if e, ok := err.(*APIError); ok && e.Type == "bad_data" {
			return "does not parse: " + e.Msg, true
		}
		return "query failed: " + err.Error(), false
	}
	if !needData {
		return "", true
	}
	if len(samples) == 0 {
		return "returned no data", false
	}
	for _, s := range samples {
		if !math.IsNaN(s.float()) {
			return "", true
		}
	}
	return fmt.Sprintf("returned only NaN (%d series)", len(samples)), false
}

// substituteVars replaces Grafana variables with values Prometheus accepts:
// interval builtins with fixed durations, template variables with their
// "All" value.
func substituteVars(expr string, vars map[string]string) (string, error) {
	var missing []string
	out := stringVar.ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.TrimPrefix(m, "$")
		name = strings.TrimSuffix(strings.TrimPrefix(name, "{"), "}")
		name, _, _ = strings.Cut(name, ":")
		if v, ok := vars[name]; ok {
			return v
		}
		missing = append(missing, name)
		return m
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for variable(s) %v", missing)
	}
	return out, nil
}
