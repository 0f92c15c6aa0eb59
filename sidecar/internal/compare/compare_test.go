package compare

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// bruteU counts the pairs in which the candidate is larger, ties half.
func bruteU(base, cand []float64) float64 {
	var u float64
	for _, c := range cand {
		for _, b := range base {
			switch {
			case c > b:
				u++
			case c == b:
				u += 0.5
			}
		}
	}
	return u
}

// bruteZ is the tie-corrected normal approximation computed the long way.
func bruteZ(base, cand []float64) float64 {
	n1, n2 := float64(len(base)), float64(len(cand))
	n := n1 + n2
	counts := map[float64]float64{}
	for _, v := range append(slices.Clone(base), cand...) {
		counts[v]++
	}
	var ties float64
	for _, t := range counts {
		ties += t*t*t - t
	}
	sd := math.Sqrt(n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1))))
	return (bruteU(base, cand) - n1*n2/2 - 0.5) / sd
}

func TestMannWhitneyMatchesTheDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		base := make([]float64, 1+rng.IntN(40))
		cand := make([]float64, 1+rng.IntN(40))
		for i := range base {
			base[i] = float64(rng.IntN(8)) // many ties
		}
		for i := range cand {
			cand[i] = float64(rng.IntN(8) + trial%3)
		}
		slices.Sort(base)
		slices.Sort(cand)
		got := mannWhitneyForTest(base, cand)
		if want := bruteU(base, cand); got.U != want {
			t.Fatalf("trial %d: U = %v, want %v", trial, got.U, want)
		}
		if z := bruteZ(base, cand); !math.IsNaN(z) && !math.IsInf(z, 0) && math.Abs(got.Z-z) > 1e-9 {
			t.Fatalf("trial %d: z = %v, want %v", trial, got.Z, z)
		}
		if got.P < 0 || got.P > 1 {
			t.Fatalf("p = %v", got.P)
		}
	}
	// A worked example: base {1,2,3}, candidate {4,5,6}: U = 9 of 9 pairs,
	// mean 4.5, sd sqrt(9*7/12); z = (9-4.5-0.5)/sqrt(5.25).
	r := mannWhitneyForTest([]float64{1, 2, 3}, []float64{4, 5, 6})
	if r.U != 9 || math.Abs(r.Z-4/math.Sqrt(5.25)) > 1e-12 {
		t.Fatalf("got %+v", r)
	}
	// All equal: no evidence.
	if r := mannWhitneyForTest([]float64{2, 2}, []float64{2, 2, 2}); r.P != 1 {
		t.Fatalf("all ties: %+v", r)
	}
}

func TestProportions(t *testing.T) {
	// 50 of 1000 against 100 of 1000: pooled 0.075.
	r := proportions(50, 1000, 100, 1000, &work{})
	wantZ := 0.05 / math.Sqrt(0.075*0.925*2.0/1000)
	if r.Method != "two-proportion-z" || math.Abs(r.Z-wantZ) > 1e-12 || math.Abs(r.P-upperTail(wantZ)) > 1e-15 {
		t.Fatalf("got %+v, want z %v", r, wantZ)
	}
	// Few events: Fisher's test, checked against exact binomial sums.
	for _, c := range [][4]int{{0, 30, 3, 30}, {1, 50, 4, 40}, {2, 100, 2, 100}, {0, 30, 0, 30}, {3, 20, 0, 25}} {
		r := proportions(c[0], c[1], c[2], c[3], &work{})
		if r.Method != "fisher-exact" {
			t.Fatalf("%v: %s", c, r.Method)
		}
		if want := exactFisher(c[0], c[1], c[2], c[3]); math.Abs(r.P-want) > 1e-9 {
			t.Fatalf("%v: p = %v, want %v", c, r.P, want)
		}
	}
}

// exactFisher sums the hypergeometric tail with exact integers.
func exactFisher(x1, n1, x2, n2 int) float64 {
	k, n := x1+x2, n1+n2
	num := new(big.Int)
	for m := x2; m <= min(k, n2); m++ {
		term := new(big.Int).Binomial(int64(k), int64(m))
		term.Mul(term, new(big.Int).Binomial(int64(n-k), int64(n2-m)))
		num.Add(num, term)
	}
	p, _ := new(big.Rat).SetFrac(num, new(big.Int).Binomial(int64(n), int64(n2))).Float64()
	return p
}

// traffic generates one side: per route, n requests with log-normal
// latencies (median medianMs) and the given fault and error rates.
func traffic(rng *rand.Rand, s *Side, route string, n int, medianMs, faultRate, errorRate float64) {
	for range n {
		lat := medianMs * math.Exp(0.5*rng.NormFloat64())
		status := 200
		switch u := rng.Float64(); {
		case u < faultRate:
			status = 503
		case u < faultRate+errorRate:
			status = 404
		}
		s.Add(route, lat, status)
	}
}

func verdicts(r Report) map[string]Verdict {
	out := map[string]Verdict{}
	for _, rt := range r.Routes {
		out[rt.Route] = rt.Verdict
	}
	return out
}

// TestKnownDifferencesAreFlagged: a candidate with twice the fault rate
// on one route and 30% slower latencies on another, over 100 seeds. The
// two routes fail in at least 95 of them; the two unchanged routes fail
// at about the rate alpha allows.
func TestKnownDifferencesAreFlagged(t *testing.T) {
	const seeds, n = 100, 2000
	fails := map[string]int{}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		base, cand := NewSide("v1", 0), NewSide("v2", 0)
		traffic(rng, base, "GET /orders", n, 20, 0.05, 0.02)
		traffic(rng, cand, "GET /orders", n, 20, 0.10, 0.02) // 2x faults
		traffic(rng, base, "GET /search", n, 50, 0.01, 0.02)
		traffic(rng, cand, "GET /search", n, 65, 0.01, 0.02) // 30% slower
		for _, r := range []string{"GET /a", "POST /b"} {
			traffic(rng, base, r, n, 30, 0.03, 0.05)
			traffic(rng, cand, r, n, 30, 0.03, 0.05)
		}
		for route, v := range verdicts(Compare(base, cand, Config{})) {
			if v == Fail {
				fails[route]++
			}
			if v == NotEnoughData {
				t.Fatalf("seed %d: %s has not enough data at %d requests", seed, route, n)
			}
		}
	}
	if fails["GET /orders"] < 95 || fails["GET /search"] < 95 {
		t.Errorf("the 2x fault rate failed in %d of %d seeds, the slower route in %d", fails["GET /orders"], seeds, fails["GET /search"])
	}
	if got := fails["GET /a"] + fails["POST /b"]; float64(got) > 2*seeds*DefaultAlpha+3*math.Sqrt(2*seeds*DefaultAlpha) {
		t.Errorf("unchanged routes failed %d times in %d", got, 2*seeds)
	}
}

// TestNoiseIsNotFlagged: both sides drawn from the same traffic, at the
// minimum sample size and above, over 1500 seeds each. The share of
// routes that fail stays within alpha (plus three standard errors of the
// estimate), and the latency test alone rejects at close to its level,
// alpha/3 (between a third of it and its level plus three standard
// errors): the tests are neither blind nor trigger-happy.
func TestNoiseIsNotFlagged(t *testing.T) {
	for _, n := range []int{DefaultMinRequests, 200} {
		const trials = 1500
		var fails, latency, faults int
		for seed := range trials {
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(n)))
			base, cand := NewSide("a", 0), NewSide("b", 0)
			traffic(rng, base, "r", n, 25, 0.05, 0.05)
			traffic(rng, cand, "r", n, 25, 0.05, 0.05)
			rt := Compare(base, cand, Config{}).Routes[0]
			if rt.Verdict == NotEnoughData {
				t.Fatalf("n=%d: not enough data", n)
			}
			if rt.Verdict == Fail {
				fails++
			}
			if rt.Latency.Worse {
				latency++
			}
			if rt.Faults.Worse {
				faults++
			}
		}
		se := func(p float64) float64 { return 3 * math.Sqrt(p*(1-p)/trials) }
		rate, lat := float64(fails)/trials, float64(latency)/trials
		level := DefaultAlpha / 3
		t.Logf("n=%d: routes failed %.4f (alpha %.2f), latency test %.4f (level %.4f), fault test %.4f", n, rate, DefaultAlpha, lat, level, float64(faults)/trials)
		if rate > DefaultAlpha+se(DefaultAlpha) || (n >= 200 && rate < DefaultAlpha/3) {
			t.Errorf("n=%d: %.4f of identical routes fail; alpha is %.2f", n, rate, DefaultAlpha)
		}
		if lat < level/3 || lat > level+se(level) {
			t.Errorf("n=%d: the latency test rejects %.4f of identical samples; its level is %.4f", n, lat, level)
		}
	}
}

func TestNotEnoughData(t *testing.T) {
	base, cand := NewSide("v1", 0), NewSide("v2", 0)
	for range DefaultMinRequests - 1 {
		base.Add("GET /few", 10, 200)
		cand.Add("GET /few", 1000, 500) // far worse, but too few
	}
	cand.Add("GET /new", 10, 200) // only on the candidate
	rep := Compare(base, cand, Config{})
	if v := verdicts(rep); v["GET /few"] != NotEnoughData || v["GET /new"] != NotEnoughData || len(v) != 2 {
		t.Fatalf("verdicts %v", v)
	}
	// One more request each and the difference is judged.
	base.Add("GET /few", 10, 200)
	cand.Add("GET /few", 1000, 500)
	if v := verdicts(Compare(base, cand, Config{})); v["GET /few"] != Fail {
		t.Fatalf("at the minimum: %v", v)
	}
	// A larger minimum applies.
	if v := verdicts(Compare(base, cand, Config{MinRequests: 100})); v["GET /few"] != NotEnoughData {
		t.Fatalf("MinRequests 100: %v", v)
	}
	// A better candidate passes.
	better := NewSide("v3", 0)
	for range 200 {
		better.Add("GET /few", 5, 200)
	}
	moreBase := NewSide("v1", 0)
	for range 200 {
		moreBase.Add("GET /few", 10, 500)
	}
	if v := verdicts(Compare(moreBase, better, Config{})); v["GET /few"] != Pass {
		t.Fatalf("a better candidate: %v", v)
	}
}

func TestReportJSON(t *testing.T) {
	base, cand := NewSide("v1", 0), NewSide("v2", 0)
	for i := range 100 {
		base.Add("GET /x", float64(i), 200)
		cand.Add("GET /x", float64(i), 200)
	}
	raw, err := json.Marshal(Compare(base, cand, Config{}))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Baseline, Candidate, Method string
		Config                      struct {
			Alpha       float64 `json:"alpha"`
			MinRequests int     `json:"min_requests"`
		}
		Routes []struct {
			Route, Verdict string
			Baseline       struct {
				P99 float64 `json:"p99_ms"`
			}
		}
	}
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back.Baseline != "v1" || back.Config.MinRequests != DefaultMinRequests || back.Config.Alpha != DefaultAlpha || back.Method == "" ||
		len(back.Routes) != 1 || back.Routes[0].Verdict != "pass" || back.Routes[0].Baseline.P99 != 98 {
		t.Fatalf("%s", raw)
	}
}

func TestAddRefusesBadInput(t *testing.T) {
	s := NewSide("v", 2)
	for _, lat := range []float64{-1, math.NaN(), math.Inf(1)} {
		if err := s.Add("r", lat, 200); err != ErrBadLatency {
			t.Fatalf("latency %v: %v", lat, err)
		}
	}
	s.Add("a", 1, 200)
	s.Add("b", 1, 200)
	if err := s.Add("c", 1, 200); err != ErrTooManyRoutes {
		t.Fatalf("third route: %v", err)
	}
	if err := s.Add("a", 2, 599); err != nil {
		t.Fatal(err)
	}
	if s.Dropped() != 4 || s.Label() != "v" {
		t.Fatalf("dropped %d", s.Dropped())
	}
}

// TestCompareIsNLogN measures the work at n and 4n requests per route:
// it grows by at most 4·log(4n)/log(n) (with 10% slack), as sorting does.
func TestCompareIsNLogN(t *testing.T) {
	work := func(n int) int {
		rng := rand.New(rand.NewPCG(3, 4))
		base, cand := NewSide("a", 0), NewSide("b", 0)
		traffic(rng, base, "r", n, 20, 0.002, 0.05) // few faults: Fisher's test runs
		traffic(rng, cand, "r", n, 20, 0.002, 0.05)
		_, ops := compareCounting(base, cand, Config{})
		return ops
	}
	const n = 2000
	w1, w4 := work(n), work(4*n)
	bound := 4 * math.Log2(4*n) / math.Log2(n) * 1.1
	if ratio := float64(w4) / float64(w1); ratio > bound {
		t.Fatalf("work %d at n=%d, %d at 4n: ratio %.2f > %.2f", w1, n, w4, ratio, bound)
	}
	if w1 < n {
		t.Fatalf("work %d at n=%d: the counter misses steps", w1, n)
	}
}

func FuzzMannWhitney(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(3))
	f.Add([]byte{0, 0, 0, 0}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		var vals []float64
		for len(data) >= 2 && len(vals) < 200 {
			vals = append(vals, float64(binary.LittleEndian.Uint16(data)%50))
			data = data[2:]
		}
		k := int(split) % (len(vals) + 1)
		base, cand := slices.Clone(vals[:k]), slices.Clone(vals[k:])
		if len(base) == 0 || len(cand) == 0 {
			return
		}
		slices.Sort(base)
		slices.Sort(cand)
		r := mannWhitneyForTest(base, cand)
		if r.U != bruteU(base, cand) || !(r.P >= 0 && r.P <= 1) || math.IsNaN(r.Z) {
			t.Fatalf("%v vs %v: %+v (U want %v)", base, cand, r, bruteU(base, cand))
		}
	})
}

func FuzzProportions(f *testing.F) {
	f.Add(uint16(3), uint16(30), uint16(5), uint16(40))
	f.Add(uint16(0), uint16(1), uint16(1), uint16(1))
	f.Fuzz(func(t *testing.T, x1, n1, x2, n2 uint16) {
		if n1 == 0 || n2 == 0 {
			return
		}
		a, b := int(x1)%(int(n1)+1), int(x2)%(int(n2)+1)
		r := proportions(a, int(n1), b, int(n2), &work{})
		if !(r.P >= 0 && r.P <= 1) {
			t.Fatalf("%d/%d vs %d/%d: %+v", a, n1, b, n2, r)
		}
	})
}
