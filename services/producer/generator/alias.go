package generator

import "math/rand/v2"

// alias samples an index with probability proportional to its weight in
// O(1) from one 64-bit draw (Walker/Vose alias method): the generator makes
// several weighted choices per event, so a linear or binary search over the
// weights would dominate its cost.
type alias struct {
	prob  []uint32 // acceptance threshold of column i, scaled to 2^32
	alias []int32  // the other outcome sharing column i
}

func newAlias(weights []float64) alias {
	n := len(weights)
	if n == 0 {
		panic("generator: alias table needs at least one weight")
	}
	var sum float64
	for _, w := range weights {
		if w < 0 {
			panic("generator: negative weight")
		}
		sum += w
	}
	if sum <= 0 {
		panic("generator: weights sum to zero")
	}
	scaled := make([]float64, n)
	var small, large []int
	for i, w := range weights {
		scaled[i] = w * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	a := alias{prob: make([]uint32, n), alias: make([]int32, n)}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.prob[s] = uint32(scaled[s] * (1 << 32))
		a.alias[s] = int32(l)
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// What is left is 1 up to rounding: always accept.
	for _, i := range append(small, large...) {
		a.prob[i] = 1<<32 - 1
		a.alias[i] = int32(i)
	}
	return a
}

// pick returns an index: the high 32 bits of one draw choose the column, the
// low 32 bits decide between the column and its alias.
func (a *alias) pick(r *rand.Rand) int {
	u := r.Uint64()
	col := int((u >> 32) * uint64(len(a.prob)) >> 32)
	if uint32(u) < a.prob[col] {
		return col
	}
	return int(a.alias[col])
}
