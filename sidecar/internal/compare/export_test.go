package compare

// compareCounting is Compare that also returns the work done.
func compareCounting(b, c *Side, cfg Config) (Report, int) {
	var w work
	r := compare(b, c, cfg, &w)
	return r, w.ops
}

func mannWhitneyForTest(base, cand []float64) Test { return mannWhitney(base, cand, &work{}) }

func fisherForTest(x1, n1, x2, n2 int) float64 { return fisherUpper(x1, n1, x2, n2, &work{}) }
