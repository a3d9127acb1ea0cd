package generator

import (
	"math"
	"regexp"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
)

// stepClock is a deterministic clock: start, then start+step, ...
func stepClock(start time.Time, step time.Duration) func() time.Time {
	next := start
	return func() time.Time {
		t := next
		next = next.Add(step)
		return t
	}
}

var epoch = time.Date(2025, 3, 14, 9, 26, 53, 589_793_238, time.UTC)

func mustNew(t testing.TB, cfg Config) *Generator {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestDeterministicUnderSeed(t *testing.T) {
	const n = 20_000
	run := func(seed uint64) []*finflowv1.Transaction {
		g := mustNew(t, Config{Seed: seed, Users: 2_000, Clock: stepClock(epoch, time.Millisecond)})
		out := make([]*finflowv1.Transaction, n)
		var tx finflowv1.Transaction
		for i := range out {
			g.Next(&tx)
			out[i] = proto.Clone(&tx).(*finflowv1.Transaction)
		}
		return out
	}
	a, b, c := run(42), run(42), run(43)
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			t.Fatalf("event %d differs under the same seed:\n%v\n%v", i, a[i], b[i])
		}
	}
	same := 0
	for i := range a {
		if a[i].TransactionId == c[i].TransactionId || a[i].AccountId == c[i].AccountId {
			same++
		}
	}
	if same > n/100 {
		t.Fatalf("seeds 42 and 43 agree on %d of %d events; the seed is not used", same, n)
	}
}

var (
	uuidV4    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	accountRe = regexp.MustCompile(`^[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{8}$`)
	userRe    = regexp.MustCompile(`^USR-[0-9]{6}$`)
	currRe    = regexp.MustCompile(`^[A-Z]{3}$`)
	countryRe = regexp.MustCompile(`^[A-Z]{2}$`)
	midRe     = regexp.MustCompile(`^MID-[A-Z0-9]{1,40}-[0-9]{6}$`)
)

func bankTransfer(ch finflowv1.Channel) bool {
	return ch == directDebit || ch == standingOrder || ch == fasterPayments
}

// TestEveryEventIsValid checks, over 100,000 events, every property the
// writer and the table's CHECK constraints rely on.
func TestEveryEventIsValid(t *testing.T) {
	const n = 100_000
	clock := stepClock(epoch, 7*time.Millisecond)
	var last time.Time
	g := mustNew(t, Config{Seed: 7, Clock: func() time.Time { last = clock(); return last }})

	ids := make(map[string]struct{}, n)
	userOfAccount := map[string]string{}
	merchantOfID := map[string]string{}
	var tx finflowv1.Transaction
	for i := range n {
		key := g.Next(&tx)
		if string(key) != tx.AccountId {
			t.Fatalf("event %d: key %q is not the account id %q", i, key, tx.AccountId)
		}
		if !uuidV4.MatchString(tx.TransactionId) {
			t.Fatalf("event %d: transaction id %q is not a canonical lower-case UUID v4", i, tx.TransactionId)
		}
		if _, dup := ids[tx.TransactionId]; dup {
			t.Fatalf("event %d: duplicate transaction id %s", i, tx.TransactionId)
		}
		ids[tx.TransactionId] = struct{}{}
		if got := tx.EventTime.AsTime(); !got.Equal(last) {
			t.Fatalf("event %d: event time %v, want the clock's %v", i, got, last)
		}
		if !userRe.MatchString(tx.UserId) || !accountRe.MatchString(tx.AccountId) {
			t.Fatalf("event %d: user %q / account %q malformed", i, tx.UserId, tx.AccountId)
		}
		if u, ok := userOfAccount[tx.AccountId]; ok && u != tx.UserId {
			t.Fatalf("account %s belongs to %s and %s", tx.AccountId, u, tx.UserId)
		}
		userOfAccount[tx.AccountId] = tx.UserId
		if l := len(tx.Merchant); l < 1 || l > 128 {
			t.Fatalf("event %d: merchant %q", i, tx.Merchant)
		}
		if l := len(tx.Location); l < 1 || l > 128 {
			t.Fatalf("event %d: location %q", i, tx.Location)
		}
		if tx.Currency != "GBP" || !countryRe.MatchString(tx.Country) {
			t.Fatalf("event %d: currency %q country %q; accounts are sterling", i, tx.Currency, tx.Country)
		}
		// Abroad: the merchant's own currency and amount, converted at the
		// table's rate into the GBP amount (contract revision 2).
		abroad := tx.Country != "GB"
		if abroad != (tx.OriginalCurrency != "") || abroad != (tx.OriginalAmountMinor > 0) {
			t.Fatalf("event %d: country %s with original %d %q", i, tx.Country, tx.OriginalAmountMinor, tx.OriginalCurrency)
		}
		if abroad {
			rate, ok := fxToGBP[tx.OriginalCurrency]
			if !ok || !currRe.MatchString(tx.OriginalCurrency) || tx.OriginalCurrency == "GBP" {
				t.Fatalf("event %d: original currency %q", i, tx.OriginalCurrency)
			}
			if want := (tx.OriginalAmountMinor*rate + 5_000) / 10_000; tx.AmountMinor != want {
				t.Fatalf("event %d: %d %s converts to %dp, not %dp", i, tx.OriginalAmountMinor, tx.OriginalCurrency, want, tx.AmountMinor)
			}
		}
		if l := len(tx.MerchantId); bankTransfer(tx.Channel) != (l == 0) || l > 64 || l > 0 && !midRe.MatchString(tx.MerchantId) {
			t.Fatalf("event %d: merchant id %q for a %v payment", i, tx.MerchantId, tx.Channel)
		}
		if tx.MerchantId != "" {
			if name, ok := merchantOfID[tx.MerchantId]; ok && name != tx.Merchant {
				t.Fatalf("merchant id %s used by %q and %q", tx.MerchantId, name, tx.Merchant)
			}
			merchantOfID[tx.MerchantId] = tx.Merchant
		}
		if _, ok := finflowv1.Category_name[int32(tx.Category)]; !ok || tx.Category == finflowv1.Category_CATEGORY_UNSPECIFIED {
			t.Fatalf("event %d: category %v", i, tx.Category)
		}
		if _, ok := finflowv1.Status_name[int32(tx.Status)]; !ok || tx.Status == finflowv1.Status_STATUS_UNSPECIFIED {
			t.Fatalf("event %d: status %v", i, tx.Status)
		}
		if _, ok := finflowv1.Channel_name[int32(tx.Channel)]; !ok || tx.Channel == finflowv1.Channel_CHANNEL_UNSPECIFIED {
			t.Fatalf("event %d: channel %v", i, tx.Channel)
		}
		lo, hi, ok := AmountBounds(tx.Category)
		if !ok || tx.AmountMinor <= 0 || tx.AmountMinor < lo || tx.AmountMinor > hi {
			t.Fatalf("event %d: %s amount %d outside [%d, %d]", i, tx.Category, tx.AmountMinor, lo, hi)
		}
		if tx.Mcc > 9999 {
			t.Fatalf("event %d: mcc %d", i, tx.Mcc)
		}
		if bankTransfer(tx.Channel) != (tx.Mcc == 0) {
			t.Fatalf("event %d: channel %v with mcc %d (transfers carry none, cards always one)", i, tx.Channel, tx.Mcc)
		}
		if (tx.Channel == atm) != (tx.Category == finflowv1.Category_CATEGORY_CASH) {
			t.Fatalf("event %d: channel %v for category %v", i, tx.Channel, tx.Category)
		}
		if tx.Category == finflowv1.Category_CATEGORY_CASH && tx.AmountMinor%1_000 != 0 {
			t.Fatalf("event %d: cash withdrawal of %dp is not whole £10s", i, tx.AmountMinor)
		}
	}
}

// mix generates n events and counts them by f.
func mix[K comparable](t *testing.T, seed uint64, n int, f func(*finflowv1.Transaction) (K, bool)) map[K]int {
	t.Helper()
	g := mustNew(t, Config{Seed: seed, Clock: stepClock(epoch, time.Second)})
	counts := map[K]int{}
	var tx finflowv1.Transaction
	for range n {
		g.Next(&tx)
		if k, ok := f(&tx); ok {
			counts[k]++
		}
	}
	return counts
}

// Status shares over 100,000 events: completed 90% ±0.6, pending 6% ±0.4,
// declined 3.5% ±0.3, reversed 0.5% ±0.1 (percentage points; each at least
// four standard deviations of a binomial share).
func TestStatusMix(t *testing.T) {
	const n = 100_000
	want := map[finflowv1.Status]struct{ share, tol float64 }{
		finflowv1.Status_STATUS_COMPLETED: {0.90, 0.006},
		finflowv1.Status_STATUS_PENDING:   {0.06, 0.004},
		finflowv1.Status_STATUS_DECLINED:  {0.035, 0.003},
		finflowv1.Status_STATUS_REVERSED:  {0.005, 0.001},
	}
	for _, seed := range []uint64{1, 2} {
		got := mix(t, seed, n, func(tx *finflowv1.Transaction) (finflowv1.Status, bool) { return tx.Status, true })
		if len(got) != len(want) {
			t.Fatalf("seed %d: statuses %v, want exactly %d kinds", seed, got, len(want))
		}
		for s, w := range want {
			share := float64(got[s]) / n
			if math.Abs(share-w.share) > w.tol {
				t.Errorf("seed %d: %v share %.4f, want %.4f ± %.4f", seed, s, share, w.share, w.tol)
			}
		}
	}
}

// The UK cities of domestic payments follow population: each city's share of
// 100,000 events is within 4 standard deviations of its population share,
// computed for an effective sample of 5,000 customers (events cluster by
// customer, and customers' home cities are themselves a sample), plus 0.1
// percentage point.
func TestCityMixFollowsPopulation(t *testing.T) {
	const n = 100_000
	pop := Cities()
	var total float64
	for _, p := range pop {
		total += float64(p)
	}
	for _, seed := range []uint64{1, 3} {
		var domestic int
		got := mix(t, seed, n, func(tx *finflowv1.Transaction) (string, bool) {
			if tx.Country != "GB" {
				return "", false
			}
			domestic++
			return tx.Location, true
		})
		for city, c := range got {
			if _, ok := pop[city]; !ok {
				t.Fatalf("seed %d: domestic payment in %q, not a known UK city", seed, city)
			}
			_ = c
		}
		for city, p := range pop {
			want := float64(p) / total
			share := float64(got[city]) / float64(domestic)
			tol := 4*math.Sqrt(want*(1-want)/5_000) + 0.001
			if math.Abs(share-want) > tol {
				t.Errorf("seed %d: %s has %.4f of domestic payments, want %.4f ± %.4f", seed, city, share, want, tol)
			}
		}
	}
}

func TestEveryCategoryChannelAndCurrencyAppears(t *testing.T) {
	const n = 100_000
	cats := mix(t, 5, n, func(tx *finflowv1.Transaction) (finflowv1.Category, bool) { return tx.Category, true })
	for v, name := range finflowv1.Category_name {
		c := finflowv1.Category(v)
		if c != finflowv1.Category_CATEGORY_UNSPECIFIED && cats[c] == 0 {
			t.Errorf("category %s never produced in %d events", name, n)
		}
	}
	// Category shares within 0.5 percentage points of the table's.
	var sum float64
	for _, spec := range categories {
		sum += spec.share
	}
	for _, spec := range categories {
		want, got := spec.share/sum, float64(cats[spec.cat])/n
		if math.Abs(got-want) > 0.005 {
			t.Errorf("%v share %.4f, want %.4f ± 0.005", spec.cat, got, want)
		}
	}
	chans := mix(t, 5, n, func(tx *finflowv1.Transaction) (finflowv1.Channel, bool) { return tx.Channel, true })
	for v, name := range finflowv1.Channel_name {
		if c := finflowv1.Channel(v); c != finflowv1.Channel_CHANNEL_UNSPECIFIED && chans[c] == 0 {
			t.Errorf("channel %s never produced in %d events", name, n)
		}
	}
	curr := mix(t, 5, n, func(tx *finflowv1.Transaction) (string, bool) { return tx.OriginalCurrency, true })
	for _, c := range []string{"EUR", "USD"} {
		if curr[c] == 0 {
			t.Errorf("no payments in %s", c)
		}
	}
	if abroad := float64(n-curr[""]) / n; abroad > 0.03 || abroad == 0 {
		t.Errorf("%.4f of payments abroad; want occasional ones (0 < share < 3%%)", abroad)
	}
}

// Amounts are skewed (log-normal style): the mean of a category lies above
// its median, and tariffs repeat exactly.
func TestAmountsAreSkewed(t *testing.T) {
	amounts := map[finflowv1.Category][]int64{}
	g := mustNew(t, Config{Seed: 11})
	var tx finflowv1.Transaction
	for range 100_000 {
		g.Next(&tx)
		if tx.OriginalCurrency == "" {
			amounts[tx.Category] = append(amounts[tx.Category], tx.AmountMinor)
		}
	}
	for _, c := range []finflowv1.Category{
		finflowv1.Category_CATEGORY_GROCERIES, finflowv1.Category_CATEGORY_SHOPPING, finflowv1.Category_CATEGORY_TRANSFER,
	} {
		a := amounts[c]
		var sum float64
		below := 0
		for _, v := range a {
			sum += float64(v)
		}
		mean := sum / float64(len(a))
		for _, v := range a {
			if float64(v) < mean {
				below++
			}
		}
		if frac := float64(below) / float64(len(a)); frac < 0.55 {
			t.Errorf("%v: only %.2f of amounts below the mean; want a right skew (> 0.55)", c, frac)
		}
	}
}

func TestPerCustomerPayeesAreStable(t *testing.T) {
	g := mustNew(t, Config{Seed: 3, Users: 500})
	type housing struct {
		payee  string
		amount int64
		ch     finflowv1.Channel
	}
	seen := map[string]housing{}
	var tx finflowv1.Transaction
	for range 100_000 {
		g.Next(&tx)
		if tx.Category != finflowv1.Category_CATEGORY_HOUSING {
			continue
		}
		h := housing{tx.Merchant, tx.AmountMinor, tx.Channel}
		if prev, ok := seen[tx.AccountId]; ok && prev != h {
			t.Fatalf("account %s pays housing %+v and %+v", tx.AccountId, prev, h)
		}
		seen[tx.AccountId] = h
		if h.ch == directDebit && h.amount < 50_000 || h.ch != directDebit && (h.amount < 60_000 || h.amount > 250_000) {
			t.Fatalf("housing payment %+v outside rent £600–£2,500 / mortgage £500–£3,000", h)
		}
	}
	if len(seen) < 100 {
		t.Fatalf("only %d accounts paid housing", len(seen))
	}
}

func TestConfigValidation(t *testing.T) {
	for _, users := range []int{-1, MaxUsers + 1} {
		if _, err := New(Config{Users: users}); err == nil {
			t.Errorf("Users=%d accepted", users)
		}
	}
	g := mustNew(t, Config{})
	if len(g.users) != DefaultUsers {
		t.Fatalf("default population %d, want %d", len(g.users), DefaultUsers)
	}
	var tx finflowv1.Transaction
	before := time.Now()
	g.Next(&tx)
	if et := tx.EventTime.AsTime(); et.Before(before.Add(-time.Second)) || et.After(time.Now().Add(time.Second)) {
		t.Fatalf("default clock gave %v, want about now", et)
	}
}

func TestAccountsAreUnique(t *testing.T) {
	g := mustNew(t, Config{Seed: 9, Users: 200_000})
	seen := make(map[string]bool, len(g.users))
	for _, u := range g.users {
		if seen[u.account] {
			t.Fatalf("account %s assigned twice", u.account)
		}
		seen[u.account] = true
		if string(u.accountKey) != u.account {
			t.Fatalf("key %q for account %q", u.accountKey, u.account)
		}
	}
}

// Making an event allocates only its transaction id (a new string each time,
// as the id must outlive the call); everything else is preformatted.
func TestNextAllocatesOnlyTheID(t *testing.T) {
	g := mustNew(t, Config{Seed: 1, Clock: stepClock(epoch, time.Millisecond)})
	var tx finflowv1.Transaction
	g.Next(&tx)
	if allocs := testing.AllocsPerRun(10_000, func() { g.Next(&tx) }); allocs > 1 {
		t.Fatalf("Next allocates %.1f times per event, want at most 1", allocs)
	}
}
