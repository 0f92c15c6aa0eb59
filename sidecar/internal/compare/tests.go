package compare

import "math"

// mannWhitney tests whether the candidate's latencies tend to be larger
// than the baseline's. Both slices are sorted; one merge ranks them.
func mannWhitney(base, cand []float64, w *work) Test {
	n1, n2 := float64(len(base)), float64(len(cand))
	n := n1 + n2
	// Merge runs of equal values from both sides; each run shares the
	// average of the ranks it spans.
	var rankSumCand, tieSum float64
	i, j, rank := 0, 0, 0
	for i < len(base) || j < len(cand) {
		var v float64
		switch {
		case j == len(cand) || (i < len(base) && base[i] <= cand[j]):
			v = base[i]
		default:
			v = cand[j]
		}
		ti, tj := 0, 0
		for i < len(base) && base[i] == v {
			i, ti = i+1, ti+1
			w.ops++
		}
		for j < len(cand) && cand[j] == v {
			j, tj = j+1, tj+1
			w.ops++
		}
		t := ti + tj
		avg := float64(rank) + float64(t+1)/2
		rankSumCand += avg * float64(tj)
		if t > 1 {
			tf := float64(t)
			tieSum += tf*tf*tf - tf
		}
		rank += t
	}
	u := rankSumCand - n2*(n2+1)/2 // pairs where the candidate is larger (ties half)
	mean := n1 * n2 / 2
	variance := n1 * n2 / 12 * ((n + 1) - tieSum/(n*(n-1)))
	t := Test{Method: "mann-whitney-u", U: u, P: 1}
	if variance <= 0 || n < 2 {
		return t // every value equal: no evidence either way
	}
	t.Z = (u - mean - 0.5) / math.Sqrt(variance)
	t.P = upperTail(t.Z)
	return t
}

// proportions tests whether the candidate's rate x2/n2 is above the
// baseline's x1/n1.
func proportions(x1, n1, x2, n2 int, w *work) Test {
	p := float64(x1+x2) / float64(n1+n2)
	minExpected := math.Min(math.Min(float64(n1)*p, float64(n1)*(1-p)), math.Min(float64(n2)*p, float64(n2)*(1-p)))
	if minExpected < 5 {
		return Test{Method: "fisher-exact", P: fisherUpper(x1, n1, x2, n2, w)}
	}
	w.ops++
	se := math.Sqrt(p * (1 - p) * (1/float64(n1) + 1/float64(n2)))
	z := (float64(x2)/float64(n2) - float64(x1)/float64(n1)) / se
	return Test{Method: "two-proportion-z", Z: z, P: upperTail(z)}
}

// fisherUpper is P(X >= x2) for X hypergeometric: n2 draws from n1+n2
// items of which x1+x2 are marked, the one-sided p-value of Fisher's
// exact test that the candidate has more marked items.
func fisherUpper(x1, n1, x2, n2 int, w *work) float64 {
	k, n := x1+x2, n1+n2
	hi := min(k, n2)
	var p float64
	for m := x2; m <= hi; m++ {
		w.ops++
		p += math.Exp(lchoose(k, m) + lchoose(n-k, n2-m) - lchoose(n, n2))
	}
	return math.Min(1, p)
}

func lchoose(n, k int) float64 {
	if k < 0 || k > n {
		return math.Inf(-1)
	}
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// upperTail is P(Z > z) for a standard normal Z.
func upperTail(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }
