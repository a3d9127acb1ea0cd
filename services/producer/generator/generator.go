// Package generator makes realistic synthetic UK retail-banking transactions:
// a population of customers with UK current accounts and home cities, and a
// stream of card payments, bills, subscriptions, rent, cash withdrawals and
// transfers at real UK merchants, with skewed amounts and a realistic mix of
// outcomes. It is deterministic under a seed and knows nothing of Kafka or
// wire formats, so the producer, benchmarks and other services' tests can
// all use it.
package generator

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"

	"google.golang.org/protobuf/types/known/timestamppb"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
)

// DefaultUsers is the population size when Config.Users is 0.
const DefaultUsers = 10_000

// MaxUsers bounds the population (about 150 bytes of memory per customer).
const MaxUsers = 1_000_000

// Config configures a Generator. The zero value is valid.
type Config struct {
	// Seed makes the output reproducible: the same Seed, Users and Clock
	// readings give the same population and the same transactions (within
	// one build: math/rand/v2 does not promise identical streams across Go
	// releases). Default 0, which is a seed like any other.
	Seed uint64
	// Users is the number of customers, each with one current account.
	// Default DefaultUsers; at most MaxUsers.
	Users int
	// Clock gives each transaction's event time. It is read once per
	// transaction and the result converted to UTC. Default time.Now.
	Clock func() time.Time
}

func (c *Config) setDefaults() {
	if c.Users == 0 {
		c.Users = DefaultUsers
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
}

func (c *Config) validate() error {
	if c.Users < 1 || c.Users > MaxUsers {
		return fmt.Errorf("users: %d is out of range (1..%d)", c.Users, MaxUsers)
	}
	return nil
}

// Generator produces transactions. It is not safe for concurrent use; give
// each goroutine its own (with its own seed).
type Generator struct {
	rng   *rand.Rand
	clock func() time.Time

	users    []user
	userPick alias

	cats    []category
	catPick alias

	cityNames []string
	cityPick  alias

	statuses   []finflowv1.Status
	statusPick alias

	payees []string
}

// user is one customer. Strings are formatted once here so that making a
// transaction copies string headers rather than formatting text.
type user struct {
	id         string
	account    string
	accountKey []byte // account as bytes, shared by every event of the user
	city       int
	grocer     int // index of the preferred supermarket in groceries
	council    string

	housingPayee   string
	housingAmount  int64
	housingChannel finflowv1.Channel
}

// category is the run-time form of a categorySpec.
type category struct {
	cat       finflowv1.Category
	merchants []merchantPicker
	pick      alias
	abroad    float64
	foreign   []merchantPicker
}

type merchantPicker struct {
	name     string
	mcc      uint32
	channels []finflowv1.Channel
	chanPick alias
	amount   amountModel

	// Abroad only: where, and the currency the merchant charges in.
	country  string // "" for the UK
	currency string // "" for GBP
	fxRate   int64  // pence per 10,000 minor units of currency
	city     string // "" for the customer's home city

	// Card acceptor ids: one for online payments, and outlets per UK city
	// (domestic) or in the merchant's city (abroad) for in-person ones.
	onlineID  string
	outletIDs [][]string // by index into ukCities
	abroadIDs []string
}

// New builds a Generator and its customer population.
func New(cfg Config) (*Generator, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Generator{
		// Two streams from one seed: the population does not shift when
		// the per-event logic changes, and vice versa.
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x6576656e7473)), // "events"
		clock: cfg.Clock,
	}

	cityWeights := make([]float64, len(ukCities))
	for i, c := range ukCities {
		g.cityNames = append(g.cityNames, c.name)
		cityWeights[i] = float64(c.population)
	}
	g.cityPick = newAlias(cityWeights)

	catWeights := make([]float64, len(categories))
	for i := range categories {
		spec := &categories[i]
		catWeights[i] = spec.share
		c := category{cat: spec.cat, abroad: spec.abroad}
		mw := make([]float64, len(spec.merchants))
		for j, m := range spec.merchants {
			mw[j] = m.weight
			p := newMerchantPicker(m.name, m.mcc, m.channels, m.amount)
			p.outletIDs = ukOutletIDs(p)
			c.merchants = append(c.merchants, p)
		}
		c.pick = newAlias(mw)
		for _, f := range foreignMerchants {
			if f.cat != spec.cat {
				continue
			}
			p := newMerchantPicker(f.name, f.mcc, f.channels, f.amount)
			p.country, p.currency, p.city = f.country, f.currency, f.city
			if p.fxRate = fxToGBP[f.currency]; p.fxRate == 0 {
				return nil, fmt.Errorf("generator data: no exchange rate for %s (%s)", f.currency, f.name)
			}
			if p.city != "" && hasInPerson(p.channels) {
				for i := range abroadOutlets {
					p.abroadIDs = append(p.abroadIDs, merchantID(p.name, 900_001+i))
				}
			}
			c.foreign = append(c.foreign, p)
		}
		if c.abroad > 0 && len(c.foreign) == 0 {
			return nil, fmt.Errorf("generator data: %v may be abroad but has no foreign merchants", spec.cat)
		}
		g.cats = append(g.cats, c)
	}
	g.catPick = newAlias(catWeights)

	sw := make([]float64, len(statusShares))
	for i, s := range statusShares {
		g.statuses = append(g.statuses, s.status)
		sw[i] = s.share
	}
	g.statusPick = newAlias(sw)

	for _, initial := range payeeInitials {
		for _, surname := range payeeSurnames {
			g.payees = append(g.payees, string(initial)+" "+surname)
		}
	}

	if err := g.populate(cfg.Seed, cfg.Users); err != nil {
		return nil, err
	}
	return g, nil
}

func newMerchantPicker(name string, mcc uint32, channels []channelWeight, amount amountModel) merchantPicker {
	p := merchantPicker{name: name, mcc: mcc, amount: amount}
	if len(channels) == 0 { // per-user channel (housing)
		return p
	}
	w := make([]float64, len(channels))
	for i, c := range channels {
		p.channels = append(p.channels, c.ch)
		w[i] = c.weight
	}
	p.chanPick = newAlias(w)
	p.onlineID = merchantID(name, 1)
	return p
}

// Next fills tx with the next transaction, overwriting every field, and
// returns its account id as bytes (for example as a partitioning key). The
// returned slice is shared by all of the account's transactions: do not
// modify it. tx.EventTime is reused across calls, so clone tx (proto.Clone)
// to keep it beyond the next call.
func (g *Generator) Next(tx *finflowv1.Transaction) []byte {
	r := g.rng
	u := &g.users[g.userPick.pick(r)]
	c := &g.cats[g.catPick.pick(r)]

	var m *merchantPicker
	if c.abroad > 0 && r.Float64() < c.abroad {
		m = &c.foreign[r.IntN(len(c.foreign))]
	} else if c.cat == finflowv1.Category_CATEGORY_GROCERIES && r.IntN(10) < 6 {
		m = &c.merchants[u.grocer] // most shopping is at one's usual supermarket
	} else {
		m = &c.merchants[c.pick.pick(r)]
	}

	name := m.name
	var channel finflowv1.Channel
	var amount int64
	switch name {
	case housingMerchant:
		name, channel, amount = u.housingPayee, u.housingChannel, u.housingAmount
	case councilTaxMerchant:
		name, channel, amount = u.council, m.channels[m.chanPick.pick(r)], drawAmount(r, &m.amount, 1)
	case transferMerchant:
		name, channel, amount = g.payees[r.IntN(len(g.payees))], m.channels[m.chanPick.pick(r)], drawAmount(r, &m.amount, 1)
	default:
		channel, amount = m.channels[m.chanPick.pick(r)], drawAmount(r, &m.amount, 1)
	}

	city, location, country := u.city, g.cityNames[u.city], "GB"
	switch {
	case m.country != "":
		country = m.country
		if m.city != "" {
			city, location = -1, m.city
		}
	case inPerson(channel) && r.Float64() < awayFromHome:
		city = g.cityPick.pick(r)
		location = g.cityNames[city]
	}

	var mcc uint32
	var merchantID string
	if cardPayment(channel) {
		// Bank transfers have no card scheme: no MCC, no card acceptor id.
		mcc = m.mcc
		switch {
		case channel == online || len(m.outletIDs) == 0 && len(m.abroadIDs) == 0:
			merchantID = m.onlineID
		case city < 0:
			merchantID = m.abroadIDs[r.IntN(len(m.abroadIDs))]
		default:
			ids := m.outletIDs[city]
			merchantID = ids[r.IntN(len(ids))]
		}
	}

	// Abroad, the merchant charges in its currency and the GBP account is
	// debited the converted amount.
	var original int64
	if m.currency != "" {
		original = amount
		amount = convert(original, m.fxRate)
	}

	tx.TransactionId = g.uuid()
	if tx.EventTime == nil {
		tx.EventTime = &timestamppb.Timestamp{}
	}
	now := g.clock().UTC()
	tx.EventTime.Seconds, tx.EventTime.Nanos = now.Unix(), int32(now.Nanosecond())
	tx.UserId = u.id
	tx.AccountId = u.account
	tx.Merchant = name
	tx.Category = c.cat
	tx.Mcc = mcc
	tx.AmountMinor = amount
	tx.Currency = "GBP" // every customer holds a sterling current account
	tx.Location = location
	tx.Country = country
	tx.Status = g.statuses[g.statusPick.pick(r)]
	tx.Channel = channel
	tx.OriginalAmountMinor = original
	tx.OriginalCurrency = m.currency
	tx.MerchantId = merchantID
	return u.accountKey
}

func inPerson(ch finflowv1.Channel) bool {
	return ch == contactless || ch == chipAndPin || ch == atm
}

func cardPayment(ch finflowv1.Channel) bool {
	return ch == contactless || ch == chipAndPin || ch == online || ch == atm
}

func hasInPerson(chs []finflowv1.Channel) bool {
	for _, ch := range chs {
		if inPerson(ch) {
			return true
		}
	}
	return false
}

// Card acceptor ids ("MID-TESCO-001003"): the name in upper-case letters
// and digits, then a six-digit outlet number: 000001 online, 001001 and up
// in the first UK city, 002001 in the second..., 900001 and up abroad. An
// outlet keeps its id across runs and seeds.
const abroadOutlets = 3

// outletsIn is how many outlets of a chain a city has: one per ~400,000
// residents, between 1 and 12.
func outletsIn(population int) int { return min(max(population/400_000, 1), 12) }

func ukOutletIDs(p merchantPicker) [][]string {
	if !hasInPerson(p.channels) {
		return nil
	}
	ids := make([][]string, len(ukCities))
	for i, c := range ukCities {
		for o := range outletsIn(c.population) {
			ids[i] = append(ids[i], merchantID(p.name, (i+1)*1_000+o+1))
		}
	}
	return ids
}

func merchantID(name string, outlet int) string {
	var b strings.Builder
	b.WriteString("MID-")
	n := 0
	for _, r := range name {
		switch r {
		case 'é', 'è', 'É':
			r = 'E'
		}
		r = unicode.ToUpper(r)
		if n < 40 && (r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
			n++
		}
	}
	fmt.Fprintf(&b, "-%06d", outlet)
	return b.String()
}

// uuid returns a canonical lower-case random (version 4) UUID drawn from the
// seeded generator, so ids repeat exactly under the same seed.
func (g *Generator) uuid() string {
	var b [16]byte
	hi, lo := g.rng.Uint64(), g.rng.Uint64()
	for i := range 8 {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// AmountBounds returns the inclusive range, in minor units, of every amount
// the generator gives for category c; ok is false for a category it never
// produces.
func AmountBounds(c finflowv1.Category) (lo, hi int64, ok bool) {
	for _, spec := range categories {
		if spec.cat == c {
			return spec.min, spec.max, true
		}
	}
	return 0, 0, false
}

// Cities returns the UK cities customers live in, with their populations,
// which weight both home cities and where in-person payments happen.
func Cities() map[string]int {
	m := make(map[string]int, len(ukCities))
	for _, c := range ukCities {
		m[c.name] = c.population
	}
	return m
}
