package generator

import (
	"math"
	"slices"
	"time"
	_ "time/tzdata" // Europe/London must resolve on hosts without a zoneinfo database.
)

// hourlyIntensity is the relative number of UK card and account payments in
// each hour of the day, London time: quiet overnight, a morning commute, a
// lunchtime peak and an early-evening peak. Shaped after published UK card
// spending by hour of day; only the shape matters, it is normalised to a
// mean of 1 below.
var hourlyIntensity = [24]float64{
	0.30, 0.18, 0.12, 0.10, 0.10, 0.16, // 00–05
	0.40, 0.80, 1.15, 1.20, 1.30, 1.50, // 06–11
	1.80, 1.70, 1.40, 1.35, 1.45, 1.65, // 12–17
	1.70, 1.55, 1.30, 1.00, 0.70, 0.45, // 18–23
}

var (
	london          = mustLoadLocation("Europe/London")
	intensityCurve  = normalisedCurve()
	minIntensity    = slices.Min(intensityCurve[:])
	maxIntensity    = slices.Max(intensityCurve[:])
	secondsPerHour  = time.Hour.Seconds()
	halfHourSeconds = secondsPerHour / 2
)

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic("generator: " + err.Error())
	}
	return loc
}

func normalisedCurve() [24]float64 {
	var sum float64
	for _, v := range hourlyIntensity {
		sum += v
	}
	var c [24]float64
	for i, v := range hourlyIntensity {
		c[i] = v * 24 / sum
	}
	return c
}

// Intensity is the daily intensity curve: the factor by which to scale a
// mean event rate at instant t so that activity follows the UK day (about
// 0.1 at 3 a.m., 1.9 at lunchtime, averaging 1 over a day). It interpolates
// linearly between the middles of the hours, so a paced rate changes
// smoothly rather than in hourly steps.
func Intensity(t time.Time) float64 {
	lt := t.In(london)
	s := float64(lt.Hour())*secondsPerHour + float64(lt.Minute()*60+lt.Second()) + float64(lt.Nanosecond())/1e9
	// Position relative to the middle of hour 0.
	x := (s - halfHourSeconds) / secondsPerHour
	if x < 0 {
		x += 24
	}
	i := int(math.Floor(x)) % 24
	frac := x - math.Floor(x)
	return intensityCurve[i]*(1-frac) + intensityCurve[(i+1)%24]*frac
}

// IntensityRange is the smallest and largest value Intensity returns.
func IntensityRange() (lo, hi float64) { return minIntensity, maxIntensity }
