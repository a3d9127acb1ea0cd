package generator

import (
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
)

// The curated tables are consistent: every merchant's amounts fit its
// category, every category but UNSPECIFIED is covered once, names are sane.
func TestCuratedData(t *testing.T) {
	covered := map[finflowv1.Category]bool{}
	for _, spec := range categories {
		if covered[spec.cat] {
			t.Errorf("%v listed twice", spec.cat)
		}
		covered[spec.cat] = true
		if spec.min <= 0 || spec.min > spec.max || spec.share <= 0 || len(spec.merchants) == 0 {
			t.Errorf("%v: bad spec min=%d max=%d share=%v merchants=%d", spec.cat, spec.min, spec.max, spec.share, len(spec.merchants))
		}
		for _, m := range spec.merchants {
			checkModel(t, spec, m.name, m.amount)
			if m.weight <= 0 {
				t.Errorf("%s: weight %v", m.name, m.weight)
			}
			for _, c := range m.channels {
				card := c.ch == contactless || c.ch == chipAndPin || c.ch == online || c.ch == atm
				if card && (m.mcc < 1000 || m.mcc > 9999) {
					t.Errorf("%s: paid by card but MCC %d is not an ISO 18245 code", m.name, m.mcc)
				}
			}
		}
	}
	for v := range finflowv1.Category_name {
		if c := finflowv1.Category(v); c != finflowv1.Category_CATEGORY_UNSPECIFIED && !covered[c] {
			t.Errorf("no merchants for %v", c)
		}
	}
	for _, f := range foreignMerchants {
		var spec *categorySpec
		for i := range categories {
			if categories[i].cat == f.cat {
				spec = &categories[i]
			}
		}
		rate, ok := fxToGBP[f.currency]
		if !ok {
			t.Errorf("%s: no exchange rate for %s", f.name, f.currency)
		}
		// In pence, the foreign amounts fit the category like domestic ones.
		lo, hi := f.amount.bounds()
		if lo, hi = convert(lo, rate), convert(hi, rate); lo < spec.min || hi > spec.max || lo <= 0 {
			t.Errorf("%s: amounts convert to [%d, %d]p, outside %v's [%d, %d]", f.name, lo, hi, spec.cat, spec.min, spec.max)
		}
		if !regexp.MustCompile(`^[A-Z]{2}$`).MatchString(f.country) || f.country == "GB" ||
			!regexp.MustCompile(`^[A-Z]{3}$`).MatchString(f.currency) || f.currency == "GBP" {
			t.Errorf("%s: country %q currency %q", f.name, f.country, f.currency)
		}
	}
	seen := map[string]bool{}
	for _, c := range ukCities {
		if seen[c.name] || c.population < 100_000 {
			t.Errorf("city %+v duplicated or implausible", c)
		}
		seen[c.name] = true
	}
	sortCode := regexp.MustCompile(`^[0-9#]{2}-[0-9#]{2}-[0-9#]{2}$`)
	for _, b := range ukBanks {
		if !sortCode.MatchString(b.sortCode) {
			t.Errorf("%s: sort code pattern %q", b.name, b.sortCode)
		}
	}
}

func checkModel(t *testing.T, spec categorySpec, name string, a amountModel) {
	t.Helper()
	lo, hi := a.bounds()
	if lo < spec.min || hi > spec.max || lo <= 0 {
		t.Errorf("%s: amounts [%d, %d] outside %v's [%d, %d]", name, lo, hi, spec.cat, spec.min, spec.max)
	}
	if len(a.prices) == 0 && (a.median < a.min || a.median > a.max || a.sigma <= 0) {
		t.Errorf("%s: model %+v", name, a)
	}
	if step := max(a.step, 1); a.min%step != 0 || a.max%step != 0 {
		t.Errorf("%s: bounds not multiples of step %d", name, step)
	}
}

func TestMerchantIDs(t *testing.T) {
	for name, want := range map[string]string{
		"Tesco":           "MID-TESCO-000001",
		"Sainsbury's":     "MID-SAINSBURYS-000001",
		"Café de Flore":   "MID-CAFEDEFLORE-000001",
		"El Corte Inglés": "MID-ELCORTEINGLES-000001",
		"M&S Food":        "MID-MSFOOD-000001",
	} {
		if got := merchantID(name, 1); got != want {
			t.Errorf("merchantID(%q) = %q, want %q", name, got, want)
		}
	}
	if got := merchantID(strings.Repeat("X", 100), 123456); len(got) > 64 {
		t.Errorf("%d characters: %s", len(got), got)
	}
	seen := map[string]bool{}
	for _, spec := range categories {
		for _, m := range spec.merchants {
			p := newMerchantPicker(m.name, m.mcc, m.channels, m.amount)
			for _, ids := range ukOutletIDs(p) {
				for _, id := range ids {
					if seen[id] {
						t.Fatalf("outlet id %s twice", id)
					}
					seen[id] = true
				}
			}
		}
	}
}

func TestIntensityCurve(t *testing.T) {
	lo, hi := IntensityRange()
	if lo <= 0 || hi <= 1 || lo >= 1 {
		t.Fatalf("range [%v, %v]", lo, hi)
	}
	// Averages 1 over a day, in winter and in summer time.
	for _, day := range []time.Time{
		time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 7, 15, 0, 0, 0, 0, time.UTC),
	} {
		var sum float64
		prev := Intensity(day)
		for m := range 24 * 60 {
			v := Intensity(day.Add(time.Duration(m) * time.Minute))
			if v < lo-1e-9 || v > hi+1e-9 {
				t.Fatalf("Intensity %v outside [%v, %v]", v, lo, hi)
			}
			if math.Abs(v-prev) > 0.02 {
				t.Fatalf("Intensity jumps from %v to %v in a minute at %v", prev, v, day.Add(time.Duration(m)*time.Minute))
			}
			prev = v
			sum += v
		}
		if mean := sum / (24 * 60); math.Abs(mean-1) > 0.01 {
			t.Errorf("mean intensity on %v is %v, want 1", day.Format(time.DateOnly), mean)
		}
	}
	// It follows London's clock: lunchtime is lunchtime in BST too.
	winterNoon := time.Date(2025, 1, 15, 12, 30, 0, 0, time.UTC)
	summerNoon := time.Date(2025, 7, 15, 11, 30, 0, 0, time.UTC) // 12:30 BST
	if a, b := Intensity(winterNoon), Intensity(summerNoon); math.Abs(a-b) > 1e-9 {
		t.Errorf("12:30 London time: %v in winter, %v in summer", a, b)
	}
	night := Intensity(time.Date(2025, 1, 15, 3, 30, 0, 0, time.UTC))
	if night > 0.2 || Intensity(winterNoon) < 1.5 {
		t.Errorf("3:30 %v, 12:30 %v: want a quiet night and a busy lunchtime", night, Intensity(winterNoon))
	}
}

func TestAliasSampler(t *testing.T) {
	g := mustNew(t, Config{Seed: 1, Users: 1})
	a := newAlias([]float64{1, 0, 3, 6})
	counts := make([]int, 4)
	const n = 200_000
	for range n {
		counts[a.pick(g.rng)]++
	}
	if counts[1] != 0 {
		t.Fatalf("zero-weight outcome picked %d times", counts[1])
	}
	for i, w := range []float64{0.1, 0, 0.3, 0.6} {
		if got := float64(counts[i]) / n; math.Abs(got-w) > 0.005 {
			t.Errorf("outcome %d: %.4f, want %.2f", i, got, w)
		}
	}
}
