package generator

import (
	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
)

// The curated UK data the generator draws from. Everything here is compiled
// into the binary: no files to ship, nothing to fetch at start-up.
//
// Amounts are in pence. Figures are rounded, plausible 2024–25 UK prices, not
// a price list: the point is realistic shapes (a flat £3 bus fare, a skewed
// supermarket basket, a fixed Netflix tier), not exact tariffs.

// city is a UK town or city with its population, which weights both where
// customers live and where they spend when away from home.
type city struct {
	name       string
	population int // residents, rounded
}

// ukCities: 2021/22 census populations (ONS, NRS, NISRA) of the local
// authority or council area, rounded to the nearest thousand.
var ukCities = []city{
	{"London", 8_866_000},
	{"Birmingham", 1_145_000},
	{"Leeds", 812_000},
	{"Glasgow", 622_000},
	{"Sheffield", 556_000},
	{"Manchester", 552_000},
	{"Bradford", 546_000},
	{"Edinburgh", 515_000},
	{"Liverpool", 486_000},
	{"Bristol", 472_000},
	{"Leicester", 368_000},
	{"Cardiff", 362_000},
	{"Belfast", 345_000},
	{"Coventry", 345_000},
	{"Nottingham", 324_000},
	{"Newcastle upon Tyne", 300_000},
	{"Milton Keynes", 287_000},
	{"Brighton", 277_000},
	{"Sunderland", 274_000},
	{"Kingston upon Hull", 267_000},
	{"Plymouth", 265_000},
	{"Wolverhampton", 264_000},
	{"Derby", 261_000},
	{"Stoke-on-Trent", 258_000},
	{"Southampton", 249_000},
	{"Swansea", 238_000},
	{"Aberdeen", 227_000},
	{"Portsmouth", 208_000},
	{"York", 202_000},
	{"Reading", 174_000},
	{"Oxford", 162_000},
	{"Dundee", 148_000},
	{"Cambridge", 146_000},
	{"Norwich", 144_000},
	{"Exeter", 130_000},
}

// bank is a UK current-account provider: its sort code pattern ('#' is a
// random digit) and a rough share of personal current accounts.
type bank struct {
	name     string
	sortCode string // "NN-NN-NN" with '#' for random digits
	share    float64
}

var ukBanks = []bank{
	{"Barclays", "20-##-##", 15},
	{"Lloyds Bank", "30-##-##", 15},
	{"NatWest", "60-##-##", 12},
	{"HSBC UK", "40-##-##", 11},
	{"Santander UK", "09-01-##", 9},
	{"Halifax", "11-##-##", 8},
	{"Nationwide", "07-04-36", 7},
	{"Monzo", "04-00-04", 7},
	{"Starling", "60-83-71", 4},
	{"TSB", "77-##-##", 4},
	{"Royal Bank of Scotland", "83-##-##", 3},
	{"Bank of Scotland", "80-##-##", 2},
	{"Co-operative Bank", "08-9#-##", 1},
	{"Chase UK", "60-84-07", 2},
}

// amountModel draws a payment amount in minor units. Either prices (a fixed
// tariff such as a subscription tier, chosen uniformly) or a log-normal
// around median with spread sigma, redrawn until it falls in [min, max] and
// rounded to a multiple of step (1p when 0).
type amountModel struct {
	min, median, max int64
	sigma            float64
	step             int64
	prices           []int64
}

func logNormal(min, median, max int64, sigma float64) amountModel {
	return amountModel{min: min, median: median, max: max, sigma: sigma}
}

func priced(prices ...int64) amountModel { return amountModel{prices: prices} }

// bounds is the smallest and largest amount the model can give.
func (a amountModel) bounds() (lo, hi int64) {
	if len(a.prices) > 0 {
		lo, hi = a.prices[0], a.prices[0]
		for _, p := range a.prices {
			lo, hi = min(lo, p), max(hi, p)
		}
		return lo, hi
	}
	return a.min, a.max
}

// channelWeight is one way a merchant is paid and how often.
type channelWeight struct {
	ch     finflowv1.Channel
	weight float64
}

const (
	contactless    = finflowv1.Channel_CHANNEL_CONTACTLESS
	chipAndPin     = finflowv1.Channel_CHANNEL_CHIP_AND_PIN
	online         = finflowv1.Channel_CHANNEL_ONLINE
	fasterPayments = finflowv1.Channel_CHANNEL_FASTER_PAYMENTS
	directDebit    = finflowv1.Channel_CHANNEL_DIRECT_DEBIT
	standingOrder  = finflowv1.Channel_CHANNEL_STANDING_ORDER
	atm            = finflowv1.Channel_CHANNEL_ATM
)

// Channel mixes shared by many merchants.
var (
	inStore       = []channelWeight{{contactless, 78}, {chipAndPin, 22}}
	inStoreWeb    = []channelWeight{{contactless, 60}, {chipAndPin, 15}, {online, 25}}
	webOnly       = []channelWeight{{online, 1}}
	tapOnly       = []channelWeight{{contactless, 1}}
	ddOnly        = []channelWeight{{directDebit, 1}}
	ddMostly      = []channelWeight{{directDebit, 90}, {online, 10}}
	recurring     = []channelWeight{{online, 75}, {directDebit, 25}}
	atmOnly       = []channelWeight{{atm, 1}}
	fpsOnly       = []channelWeight{{fasterPayments, 1}}
	fuelForecourt = []channelWeight{{chipAndPin, 45}, {contactless, 55}}
)

// merchant is a payee with its ISO 18245 merchant category code (used only
// for card payments: bank transfers carry mcc 0), how it is paid and what it
// charges. weight is its share of its category's transactions.
type merchant struct {
	name     string
	mcc      uint32
	channels []channelWeight
	amount   amountModel
	weight   float64
}

// categorySpec is a spending category: its share of all transactions, the
// amount range every merchant in it must stay within, and its merchants.
type categorySpec struct {
	cat       finflowv1.Category
	share     float64
	min, max  int64 // amount bounds in minor units, inclusive
	merchants []merchant
	// abroad is the probability that a payment in this category is made
	// outside the UK, with one of the foreign merchants of the category.
	abroad float64
}

// Per-user payees are built from these; see population.go.
const (
	// councilTaxMerchant marks the council tax payee, which is the home
	// city's council ("Leeds City Council").
	councilTaxMerchant = "Council Tax"
	// housingMerchant marks the housing payee, fixed per customer.
	housingMerchant = "Housing"
	// transferMerchant marks a transfer to a person, named at random.
	transferMerchant = "Transfer"
)

var categories = []categorySpec{
	{
		cat: finflowv1.Category_CATEGORY_GROCERIES, share: 21, min: 500, max: 15_000, abroad: 0.01,
		merchants: []merchant{
			{"Tesco", 5411, inStoreWeb, logNormal(500, 2_800, 15_000, 0.75), 27},
			{"Sainsbury's", 5411, inStoreWeb, logNormal(500, 3_000, 15_000, 0.75), 15},
			{"Asda", 5411, inStoreWeb, logNormal(500, 3_400, 15_000, 0.75), 12},
			{"Aldi", 5411, inStore, logNormal(500, 2_600, 15_000, 0.7), 10},
			{"Lidl", 5411, inStore, logNormal(500, 2_400, 15_000, 0.7), 8},
			{"Morrisons", 5411, inStoreWeb, logNormal(500, 2_900, 15_000, 0.75), 8},
			{"Co-op", 5411, inStore, logNormal(500, 1_100, 8_000, 0.6), 6},
			{"Waitrose", 5411, inStoreWeb, logNormal(500, 3_300, 15_000, 0.75), 5},
			{"M&S Food", 5411, inStore, logNormal(500, 1_600, 10_000, 0.7), 4},
			{"Iceland", 5411, inStore, logNormal(500, 2_200, 12_000, 0.7), 3},
			{"Ocado", 5411, webOnly, logNormal(4_000, 8_500, 15_000, 0.35), 2},
		},
	},
	{
		cat: finflowv1.Category_CATEGORY_TRANSPORT, share: 15, min: 150, max: 25_000, abroad: 0.015,
		merchants: []merchant{
			// TfL charges a day's journeys at once, capped (£8.90 zones 1–2).
			{"TfL", 4111, tapOnly, logNormal(175, 560, 1_590, 0.55), 30},
			{"Trainline", 4112, webOnly, logNormal(500, 3_200, 25_000, 0.85), 10},
			{"National Rail", 4112, inStoreWeb, logNormal(300, 1_500, 15_000, 0.8), 8},
			{"Uber", 4121, webOnly, logNormal(500, 1_400, 8_000, 0.55), 14},
			// England's single bus fare cap: £3 from January 2025.
			{"Stagecoach", 4131, tapOnly, priced(200, 250, 300, 300, 300), 8},
			{"Shell", 5541, fuelForecourt, logNormal(1_500, 5_500, 12_000, 0.4), 11},
			{"BP", 5541, fuelForecourt, logNormal(1_500, 5_500, 12_000, 0.4), 10},
			{"Esso", 5541, fuelForecourt, logNormal(1_500, 5_200, 12_000, 0.4), 6},
			{"Lime", 4121, webOnly, logNormal(150, 450, 2_000, 0.5), 3},
		},
	},
	{
		cat: finflowv1.Category_CATEGORY_DINING, share: 17, min: 150, max: 15_000, abroad: 0.015,
		merchants: []merchant{
			{"Pret A Manger", 5814, tapOnly, logNormal(200, 650, 1_500, 0.45), 14},
			{"Greggs", 5814, tapOnly, logNormal(150, 420, 1_000, 0.45), 12},
			// Coffee: £2–£6.
			{"Costa Coffee", 5814, tapOnly, logNormal(200, 380, 600, 0.25), 12},
			{"Starbucks", 5814, tapOnly, logNormal(200, 420, 600, 0.25), 8},
			{"Caffè Nero", 5814, tapOnly, logNormal(200, 360, 600, 0.25), 6},
			{"McDonald's", 5814, inStoreWeb, logNormal(150, 850, 2_500, 0.55), 10},
			{"Nando's", 5812, inStore, logNormal(1_000, 2_600, 6_000, 0.45), 6},
			{"Wagamama", 5812, inStore, logNormal(1_200, 3_000, 7_000, 0.45), 4},
			{"PizzaExpress", 5812, inStore, logNormal(1_500, 3_600, 8_000, 0.45), 3},
			{"Wetherspoons", 5813, inStore, logNormal(350, 1_400, 5_000, 0.6), 9},
			{"Deliveroo", 5812, webOnly, logNormal(1_000, 2_500, 6_000, 0.4), 9},
			{"Just Eat", 5812, webOnly, logNormal(1_000, 2_300, 6_000, 0.4), 7},
			{"Dishoom", 5812, inStore, logNormal(2_000, 6_000, 15_000, 0.5), 1},
		},
	},
	{
		cat: finflowv1.Category_CATEGORY_SHOPPING, share: 13, min: 200, max: 150_000, abroad: 0.01,
		merchants: []merchant{
			{"Amazon", 5999, webOnly, logNormal(300, 1_800, 30_000, 0.9), 30},
			{"Argos", 5311, inStoreWeb, logNormal(500, 2_500, 50_000, 0.9), 7},
			{"Boots", 5912, inStore, logNormal(200, 1_100, 6_000, 0.7), 10},
			{"John Lewis", 5311, inStoreWeb, logNormal(1_000, 6_500, 150_000, 1.0), 5},
			{"Primark", 5651, inStore, logNormal(300, 2_000, 8_000, 0.6), 8},
			{"Next", 5651, inStoreWeb, logNormal(1_000, 4_000, 20_000, 0.6), 6},
			{"Currys", 5732, inStoreWeb, logNormal(1_000, 9_000, 150_000, 1.1), 4},
			{"IKEA", 5712, inStoreWeb, logNormal(500, 6_000, 100_000, 1.0), 3},
			{"B&Q", 5200, inStore, logNormal(300, 3_000, 50_000, 0.9), 4},
			{"ASOS", 5691, webOnly, logNormal(1_000, 4_500, 20_000, 0.55), 5},
			{"eBay", 5999, webOnly, logNormal(200, 2_200, 30_000, 0.9), 6},
			{"WHSmith", 5994, tapOnly, logNormal(200, 650, 3_000, 0.55), 6},
			{"Apple Store", 5732, inStoreWeb, logNormal(1_900, 25_000, 150_000, 1.0), 2},
			{"TK Maxx", 5651, inStore, logNormal(400, 2_800, 15_000, 0.65), 4},
		},
	},
	{
		cat: finflowv1.Category_CATEGORY_BILLS, share: 6, min: 1_000, max: 30_000,
		merchants: []merchant{
			{"British Gas", 4900, ddOnly, logNormal(4_000, 11_000, 25_000, 0.4), 14},
			{"Octopus Energy", 4900, ddOnly, logNormal(4_000, 10_500, 25_000, 0.4), 14},
			{"EDF", 4900, ddOnly, logNormal(4_000, 11_000, 25_000, 0.4), 7},
			{"E.ON Next", 4900, ddOnly, logNormal(4_000, 11_000, 25_000, 0.4), 7},
			{"Thames Water", 4900, ddOnly, logNormal(2_000, 4_500, 8_000, 0.3), 6},
			{"Severn Trent", 4900, ddOnly, logNormal(2_000, 4_000, 8_000, 0.3), 5},
			{"United Utilities", 4900, ddOnly, logNormal(2_000, 4_200, 8_000, 0.3), 4},
			{"BT", 4814, ddMostly, logNormal(2_500, 4_800, 9_000, 0.3), 9},
			{"Virgin Media", 4899, ddOnly, logNormal(2_500, 6_000, 12_000, 0.35), 7},
			{"EE", 4814, ddMostly, logNormal(1_000, 2_800, 7_000, 0.4), 6},
			{"Vodafone", 4814, ddMostly, logNormal(1_000, 2_600, 7_000, 0.4), 5},
			{"TV Licensing", 4899, ddOnly, priced(1_454), 4},
			// Council tax: £100–£300 a month, to the home city's council.
			{councilTaxMerchant, 9311, ddOnly, logNormal(10_000, 16_500, 30_000, 0.3), 12},
		},
	},
	{
		cat: finflowv1.Category_CATEGORY_SUBSCRIPTIONS, share: 5, min: 99, max: 10_000,
		merchants: []merchant{
			{"Netflix", 4899, recurring, priced(599, 1_299, 1_299, 1_899), 18},
			{"Spotify", 5815, recurring, priced(599, 1_299, 1_299, 1_299, 1_699, 1_999), 17},
			{"Disney+", 4899, recurring, priced(499, 999, 1_299), 10},
			{"Amazon Prime", 5968, recurring, priced(599, 899, 899), 14},
			{"Apple iCloud+", 5818, webOnly, priced(99, 299, 899), 10},
			{"YouTube Premium", 5815, webOnly, priced(1_299, 1_999), 6},
			{"Sky", 4899, ddOnly, logNormal(2_500, 5_500, 10_000, 0.35), 10},
			{"NOW", 4899, webOnly, priced(999, 1_299, 3_499), 4},
			{"Xbox Game Pass", 5816, webOnly, priced(699, 1_099, 1_499), 4},
			{"Audible", 5815, webOnly, priced(899), 3},
			{"The Times", 5994, recurring, priced(400, 2_600), 2},
			{"Microsoft 365", 5818, webOnly, priced(599, 849), 2},
		},
	},
	{
		cat: finflowv1.Category_CATEGORY_ENTERTAINMENT, share: 5, min: 200, max: 25_000,
		merchants: []merchant{
			{"Odeon", 7832, inStoreWeb, logNormal(700, 1_500, 4_000, 0.45), 12},
			{"Vue", 7832, inStoreWeb, logNormal(700, 1_400, 4_000, 0.45), 9},
			{"Cineworld", 7832, inStoreWeb, logNormal(700, 1_450, 4_000, 0.45), 9},
			{"Ticketmaster", 7922, webOnly, logNormal(2_000, 6_500, 25_000, 0.7), 9},
			{"PureGym", 7997, ddOnly, priced(1_799, 2_499, 2_999), 14},
			{"The Gym Group", 7997, ddOnly, priced(1_699, 2_299, 2_799), 8},
			{"Steam", 5816, webOnly, logNormal(200, 1_400, 7_000, 0.8), 10},
			{"PlayStation Store", 5816, webOnly, logNormal(200, 2_000, 7_000, 0.8), 7},
			{"National Lottery", 7800, webOnly, priced(200, 200, 400, 500, 1_000), 10},
			{"Hollywood Bowl", 7933, inStore, logNormal(1_000, 2_600, 6_000, 0.45), 5},
			{"Merlin Entertainments", 7996, webOnly, logNormal(2_500, 8_000, 25_000, 0.6), 3},
			{"Bet365", 7995, webOnly, logNormal(500, 1_500, 10_000, 0.7), 4},
		},
	},
	{
		cat: finflowv1.Category_CATEGORY_HEALTH, share: 3, min: 150, max: 40_000,
		merchants: []merchant{
			{"Boots Pharmacy", 5912, inStore, logNormal(150, 800, 5_000, 0.65), 25},
			{"Superdrug", 5912, inStore, logNormal(150, 900, 4_000, 0.6), 15},
			{"Lloyds Pharmacy", 5912, inStore, logNormal(150, 700, 4_000, 0.6), 10},
			// NHS prescription charge in England (2025).
			{"NHS Prescription", 5912, inStore, priced(990), 15},
			{"Specsavers", 8043, inStore, logNormal(1_000, 6_000, 30_000, 0.8), 10},
			{"Vision Express", 8043, inStore, logNormal(1_000, 7_000, 30_000, 0.8), 5},
			{"Bupa Dental Care", 8021, inStore, logNormal(2_000, 9_000, 40_000, 0.8), 8},
			{"Holland & Barrett", 5499, inStore, logNormal(300, 1_600, 6_000, 0.6), 12},
		},
	},
	{
		cat: finflowv1.Category_CATEGORY_TRAVEL, share: 2.5, min: 1_500, max: 200_000, abroad: 0.3,
		merchants: []merchant{
			{"British Airways", 4511, webOnly, logNormal(5_000, 28_000, 150_000, 0.8), 12},
			{"easyJet", 4511, webOnly, logNormal(2_500, 9_500, 40_000, 0.6), 16},
			{"Ryanair", 4511, webOnly, logNormal(1_500, 6_500, 30_000, 0.6), 12},
			{"Jet2", 4511, webOnly, logNormal(3_000, 14_000, 60_000, 0.6), 7},
			{"Premier Inn", 7011, inStoreWeb, logNormal(4_500, 9_000, 25_000, 0.45), 14},
			{"Travelodge", 7011, inStoreWeb, logNormal(3_500, 7_000, 20_000, 0.45), 10},
			{"Booking.com", 4722, webOnly, logNormal(5_000, 22_000, 100_000, 0.7), 10},
			{"Airbnb", 7011, webOnly, logNormal(6_000, 35_000, 150_000, 0.7), 7},
			{"Eurostar", 4112, webOnly, logNormal(4_000, 16_000, 50_000, 0.6), 5},
			{"TUI", 4722, webOnly, logNormal(30_000, 90_000, 200_000, 0.5), 4},
			{"Hertz", 7512, inStoreWeb, logNormal(3_000, 15_000, 60_000, 0.6), 3},
		},
	},
	{
		// Housing payees and amounts are fixed per customer; see population.go.
		cat: finflowv1.Category_CATEGORY_HOUSING, share: 1.5, min: 50_000, max: 300_000,
		merchants: []merchant{{housingMerchant, 0, nil, logNormal(50_000, 110_000, 300_000, 0.4), 1}},
	},
	{
		cat: finflowv1.Category_CATEGORY_CASH, share: 4, min: 1_000, max: 30_000,
		merchants: []merchant{
			{"Barclays ATM", 6011, atmOnly, cashWithdrawal, 14},
			{"Lloyds Bank ATM", 6011, atmOnly, cashWithdrawal, 14},
			{"NatWest ATM", 6011, atmOnly, cashWithdrawal, 12},
			{"HSBC ATM", 6011, atmOnly, cashWithdrawal, 11},
			{"Santander ATM", 6011, atmOnly, cashWithdrawal, 8},
			{"Nationwide ATM", 6011, atmOnly, cashWithdrawal, 6},
			{"Post Office ATM", 6011, atmOnly, cashWithdrawal, 10},
			{"Cardtronics ATM", 6011, atmOnly, cashWithdrawal, 15},
			{"Notemachine ATM", 6011, atmOnly, cashWithdrawal, 10},
		},
	},
	{
		// Faster Payments to a person; the payee is named per transaction.
		cat: finflowv1.Category_CATEGORY_TRANSFER, share: 7, min: 100, max: 500_000,
		merchants: []merchant{{transferMerchant, 0, fpsOnly, logNormal(100, 4_000, 500_000, 1.3), 1}},
	},
}

// Cash machines dispense £10 and £20 notes: £10–£300 in steps of £10.
var cashWithdrawal = amountModel{min: 1_000, median: 4_000, max: 30_000, sigma: 0.7, step: 1_000}

// foreignMerchant is a payee outside the UK, charging in its own currency;
// the customer's GBP account is debited the converted amount (contract
// revision 2: original_amount_minor/original_currency). city is empty for
// remote (online) payments, which are located at the customer's home city.
// amount is in minor units of currency and converts into the category's
// range.
type foreignMerchant struct {
	cat      finflowv1.Category
	name     string
	mcc      uint32
	channels []channelWeight
	country  string // ISO 3166-1 alpha-2
	currency string // ISO 4217
	city     string
	amount   amountModel
}

var foreignMerchants = []foreignMerchant{
	{finflowv1.Category_CATEGORY_GROCERIES, "Carrefour", 5411, inStore, "FR", "EUR", "Paris", logNormal(600, 2_800, 15_000, 0.7)},
	{finflowv1.Category_CATEGORY_GROCERIES, "Mercadona", 5411, inStore, "ES", "EUR", "Barcelona", logNormal(600, 2_500, 15_000, 0.7)},
	{finflowv1.Category_CATEGORY_GROCERIES, "Albert Heijn", 5411, inStore, "NL", "EUR", "Amsterdam", logNormal(600, 2_200, 15_000, 0.7)},
	{finflowv1.Category_CATEGORY_GROCERIES, "Whole Foods Market", 5411, inStore, "US", "USD", "New York", logNormal(700, 4_500, 15_000, 0.7)},
	{finflowv1.Category_CATEGORY_TRANSPORT, "SNCF", 4112, inStoreWeb, "FR", "EUR", "Paris", logNormal(300, 4_500, 25_000, 0.8)},
	{finflowv1.Category_CATEGORY_TRANSPORT, "Renfe", 4112, inStoreWeb, "ES", "EUR", "Madrid", logNormal(300, 3_500, 20_000, 0.8)},
	{finflowv1.Category_CATEGORY_TRANSPORT, "MTA", 4111, tapOnly, "US", "USD", "New York", priced(290)},
	{finflowv1.Category_CATEGORY_TRANSPORT, "Uber", 4121, webOnly, "US", "USD", "New York", logNormal(500, 2_200, 8_000, 0.5)},
	{finflowv1.Category_CATEGORY_DINING, "Le Pain Quotidien", 5812, inStore, "BE", "EUR", "Brussels", logNormal(800, 2_200, 8_000, 0.5)},
	{finflowv1.Category_CATEGORY_DINING, "Starbucks", 5814, tapOnly, "US", "USD", "New York", logNormal(300, 650, 1_500, 0.3)},
	{finflowv1.Category_CATEGORY_DINING, "Café de Flore", 5812, inStore, "FR", "EUR", "Paris", logNormal(600, 2_800, 10_000, 0.5)},
	{finflowv1.Category_CATEGORY_DINING, "Bewley's", 5814, tapOnly, "IE", "EUR", "Dublin", logNormal(300, 900, 3_000, 0.45)},
	{finflowv1.Category_CATEGORY_SHOPPING, "Amazon.com", 5999, webOnly, "US", "USD", "", logNormal(500, 3_500, 30_000, 0.9)},
	{finflowv1.Category_CATEGORY_SHOPPING, "Zalando", 5691, webOnly, "DE", "EUR", "", logNormal(1_500, 6_000, 30_000, 0.6)},
	{finflowv1.Category_CATEGORY_SHOPPING, "El Corte Inglés", 5311, inStore, "ES", "EUR", "Madrid", logNormal(1_000, 6_000, 60_000, 0.8)},
	{finflowv1.Category_CATEGORY_TRAVEL, "Air France", 4511, webOnly, "FR", "EUR", "", logNormal(6_000, 25_000, 150_000, 0.7)},
	{finflowv1.Category_CATEGORY_TRAVEL, "Ryanair DAC", 4511, webOnly, "IE", "EUR", "", logNormal(2_000, 7_500, 30_000, 0.6)},
	{finflowv1.Category_CATEGORY_TRAVEL, "Ibis", 7011, inStore, "FR", "EUR", "Paris", logNormal(6_000, 12_000, 40_000, 0.45)},
	{finflowv1.Category_CATEGORY_TRAVEL, "NH Hotels", 7011, inStore, "ES", "EUR", "Barcelona", logNormal(7_000, 15_000, 50_000, 0.45)},
	{finflowv1.Category_CATEGORY_TRAVEL, "Marriott", 7011, inStore, "US", "USD", "New York", logNormal(15_000, 35_000, 150_000, 0.5)},
	{finflowv1.Category_CATEGORY_TRAVEL, "Hertz", 7512, inStore, "US", "USD", "Orlando", logNormal(5_000, 25_000, 100_000, 0.6)},
}

// fxToGBP converts foreign minor units into pence: pence per 10,000 minor
// units, i.e. the GBP rate in basis points (rounded 2025 reference rates;
// a fixed rate keeps runs reproducible). Integer arithmetic: money never
// passes through a float.
var fxToGBP = map[string]int64{
	"EUR": 8_500, // £0.85 per euro
	"USD": 7_600, // £0.76 per dollar
}

// convert turns minor units of a foreign currency into pence at rate (pence
// per 10,000 minor units), rounding half up.
func convert(amount, rate int64) int64 {
	return (amount*rate + 5_000) / 10_000
}

// Housing payees: letting agents take rent by standing order or Faster
// Payments, lenders collect mortgages by Direct Debit.
var (
	lettingAgents = []string{
		"Foxtons", "Savills Lettings", "Countrywide Lettings", "Your Move",
		"Grainger plc", "Hamptons", "Leaders Letting", "Martin & Co",
		"Connells Lettings", "Rent to Landlord",
	}
	mortgageLenders = []string{
		"Nationwide BS Mortgage", "Halifax Mortgage", "Santander Mortgage",
		"Barclays Mortgage", "NatWest Mortgage", "Lloyds Bank Mortgage",
		"HSBC Mortgage", "Coventry BS Mortgage", "Skipton BS Mortgage",
	}
)

// The most common surnames in England and Wales, for Faster Payments payees
// ("J Smith").
var (
	payeeInitials = "ABCDEGHJKLMNPRSTW"
	payeeSurnames = []string{
		"Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans",
		"Wilson", "Thomas", "Johnson", "Roberts", "Robinson", "Thompson",
		"Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
		"Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner",
		"Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee",
		"King", "Baker", "Harrison", "Morgan", "Allen", "James", "Scott",
		"Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young",
		"Griffiths", "Mitchell", "Kelly", "Cook", "Carter", "Richardson",
		"Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox",
		"Richards", "Khan", "Marshall", "Anderson", "Simpson", "Ellis",
		"Adams", "Singh", "Begum", "Wilkinson", "Foster", "Chapman", "Powell",
		"Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain",
		"Campbell", "Matthews", "Owen", "Palmer", "Holmes", "Mills", "Barnes",
		"Knight", "Lloyd", "Butler", "Russell", "Barker", "Fisher", "Stevens",
		"Jenkins", "Murray", "Dixon", "Harvey",
	}
)

// statusShares: the outcome mix of all transactions.
var statusShares = []struct {
	status finflowv1.Status
	share  float64
}{
	{finflowv1.Status_STATUS_COMPLETED, 90},
	{finflowv1.Status_STATUS_PENDING, 6},
	{finflowv1.Status_STATUS_DECLINED, 3.5},
	{finflowv1.Status_STATUS_REVERSED, 0.5},
}

// Where customers are when they pay in person: mostly at home.
const awayFromHome = 0.1

// Rents and mortgages in London are about half as much again as elsewhere.
const londonHousingFactor = 1.5
