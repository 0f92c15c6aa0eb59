package compare_test

import (
	"fmt"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/compare"
)

func ExampleCompare() {
	v1, v2 := compare.NewSide("orders:16", 0), compare.NewSide("orders:17", 0)
	for i := range 400 {
		status := 200
		if i%20 == 0 {
			status = 500 // 5% faults on v1
		}
		v1.Add("GET /orders/{id}", float64(10+i%7), status)
		if i%10 == 0 {
			status = 500 // 10% on v2
		}
		v2.Add("GET /orders/{id}", float64(10+i%7), status)
		v1.Add("GET /healthz", 1, 200)
		v2.Add("GET /healthz", 1, 200)
	}
	v2.Add("POST /orders", 12, 201) // new on v2
	for _, r := range compare.Compare(v1, v2, compare.Config{}).Routes {
		fmt.Printf("%s: %s (faults %.1f%% -> %.1f%%, %s p=%.4f)\n", r.Route, r.Verdict,
			100*r.Baseline.FaultRate, 100*r.Candidate.FaultRate, r.Faults.Method, r.Faults.P)
	}
	// Output:
	// GET /healthz: pass (faults 0.0% -> 0.0%, fisher-exact p=1.0000)
	// GET /orders/{id}: fail (faults 5.0% -> 10.0%, two-proportion-z p=0.0036)
	// POST /orders: not_enough_data (faults 0.0% -> 0.0%,  p=0.0000)
}
