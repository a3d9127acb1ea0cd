package generator

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
)

var errDuplicateAccounts = errors.New("generator: could not draw unique account numbers")

// Councils whose name is not "<city> City Council". London's customers pay
// one of its boroughs.
var (
	councilNames = map[string]string{
		"Edinburgh":           "City of Edinburgh Council",
		"Cardiff":             "Cardiff Council",
		"Swansea":             "Swansea Council",
		"Bradford":            "Bradford Council",
		"Brighton":            "Brighton & Hove City Council",
		"Wolverhampton":       "City of Wolverhampton Council",
		"Kingston upon Hull":  "Hull City Council",
		"Newcastle upon Tyne": "Newcastle City Council",
		"Reading":             "Reading Borough Council",
		"York":                "City of York Council",
	}
	londonBoroughs = []string{
		"Camden Council", "Lambeth Council", "Hackney Council", "Islington Council",
		"Southwark Council", "Tower Hamlets Council", "Wandsworth Council",
		"Croydon Council", "Barnet Council", "Ealing Council", "Newham Council",
		"Brent Council", "Lewisham Council", "Haringey Council",
	}
)

// populate draws the customers: home city by population, a bank and a
// unique account number, a usual supermarket, how much they transact, and
// their rent or mortgage.
func (g *Generator) populate(seed uint64, n int) error {
	r := rand.New(rand.NewPCG(seed, 0x706f70756c617465)) // "populate"

	bw := make([]float64, len(ukBanks))
	for i, b := range ukBanks {
		bw[i] = b.share
	}
	bankPick := newAlias(bw)

	groceries := g.categoryIndex(finflowv1.Category_CATEGORY_GROCERIES)
	housing := &categories[g.categoryIndex(finflowv1.Category_CATEGORY_HOUSING)]

	width := max(6, len(fmt.Sprint(n)))
	seen := make(map[string]struct{}, n)
	g.users = make([]user, n)
	activity := make([]float64, n)
	for i := range g.users {
		u := &g.users[i]
		u.id = fmt.Sprintf("USR-%0*d", width, i+1)
		u.city = g.cityPick.pick(r)
		u.grocer = g.cats[groceries].pick.pick(r)

		// One in 10^8 per bank prefix: a clash is rare, but account ids
		// are record keys and must be unique.
		for tries := 0; ; tries++ {
			if tries == 100 {
				return errDuplicateAccounts
			}
			acct := formatAccount(ukBanks[bankPick.pick(r)].sortCode, r)
			if _, dup := seen[acct]; !dup {
				seen[acct] = struct{}{}
				u.account = acct
				break
			}
		}
		u.accountKey = []byte(u.account)

		city := g.cityNames[u.city]
		switch {
		case city == "London":
			u.council = londonBoroughs[r.IntN(len(londonBoroughs))]
		case councilNames[city] != "":
			u.council = councilNames[city]
		default:
			u.council = city + " City Council"
		}

		scale := 1.0
		if city == "London" {
			scale = londonHousingFactor
		}
		if r.IntN(100) < 60 { // renters
			u.housingPayee = lettingAgents[r.IntN(len(lettingAgents))]
			u.housingChannel = standingOrder
			if r.IntN(100) < 35 {
				u.housingChannel = fasterPayments
			}
			// Rent: £600–£2,500 a month, whole pounds.
			u.housingAmount = drawAmount(r, &amountModel{min: 60_000, median: 95_000, max: 250_000, sigma: 0.3, step: 100}, scale)
		} else {
			u.housingPayee = mortgageLenders[r.IntN(len(mortgageLenders))]
			u.housingChannel = directDebit
			u.housingAmount = drawAmount(r, &amountModel{min: housing.min, median: 90_000, max: housing.max, sigma: 0.4}, scale)
		}

		// Some people pay for far more than others.
		activity[i] = math.Exp(0.5 * r.NormFloat64())
	}
	g.userPick = newAlias(activity)
	return nil
}

func (g *Generator) categoryIndex(c finflowv1.Category) int {
	for i := range g.cats {
		if g.cats[i].cat == c {
			return i
		}
	}
	panic(fmt.Sprintf("generator data: no category %v", c))
}

// formatAccount fills the '#' of a sort code pattern with random digits and
// appends a random 8-digit account number: "20-00-00 12345678".
func formatAccount(sortCode string, r *rand.Rand) string {
	var b strings.Builder
	b.Grow(len(sortCode) + 9)
	for _, ch := range sortCode {
		if ch == '#' {
			ch = rune('0' + r.IntN(10))
		}
		b.WriteRune(ch)
	}
	fmt.Fprintf(&b, " %08d", r.IntN(100_000_000))
	return b.String()
}

// drawAmount draws from m, scaling its median by scale. Floating point only
// shapes the distribution; the amount is whole minor units, never a float.
func drawAmount(r *rand.Rand, m *amountModel, scale float64) int64 {
	if len(m.prices) > 0 {
		return m.prices[r.IntN(len(m.prices))]
	}
	step := max(m.step, 1)
	median := float64(m.median) * scale
	// Redraw rather than clamp, so the bounds do not pile up probability.
	for range 8 {
		v := median * math.Exp(m.sigma*r.NormFloat64())
		a := int64(math.Round(v/float64(step))) * step
		if a >= m.min && a <= m.max {
			return a
		}
	}
	a := int64(math.Round(median/float64(step))) * step
	return min(max(a, m.min), m.max)
}
