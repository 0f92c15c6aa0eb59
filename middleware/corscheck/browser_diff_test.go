package corscheck_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
)

// randomCases builds n exchanges from a vocabulary of the header values
// that matter (and that go wrong) in CORS, with a fixed seed so that every
// run replays the same cases. The page's credentials mode is declared to
// the Checker, so each verdict must be exactly Chromium's.
func randomCases(n int) []browserCase {
	rng := rand.New(rand.NewPCG(7, 2026))
	out := make([]browserCase, n)
	for i := range out {
		bc := browserCase{
			method:  []string{"GET", "GET", "PUT", "DELETE", "POST"}[rng.IntN(5)],
			include: rng.IntN(3) == 0,
		}
		switch rng.IntN(5) {
		case 1:
			bc.headers = map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
		case 2:
			bc.headers = map[string]string{"Authorization": "Bearer t"}
		case 3:
			bc.headers = map[string]string{"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793", "Content-Type": "application/json"}
		}
		mode := corscheck.CredentialsOmit
		if bc.include {
			mode = corscheck.CredentialsInclude
		}
		bc.opts = []corscheck.Option{corscheck.WithCredentials(mode)}

		// Each list starts with the right answers, drawn most of the time.
		good := func(n int, xs ...[]string) []string {
			if rng.IntN(4) != 0 {
				return xs[rng.IntN(n)]
			}
			return xs[rng.IntN(len(xs))]
		}
		origin := func() []string {
			return good(2, kv("Access-Control-Allow-Origin", "$ORIGIN"), kv("Access-Control-Allow-Origin", "*"), nil,
				kv("Access-Control-Allow-Origin", "$ORIGIN/"), kv("Access-Control-Allow-Origin", "http://127.0.0.1:1"), kv("Access-Control-Allow-Origin", "null"),
				kv("Access-Control-Allow-Origin", "$ORIGIN", "Access-Control-Allow-Origin", "$ORIGIN"), kv("Access-Control-Allow-Origin", "$ORIGIN, http://127.0.0.1:1"))
		}
		creds := func() []string {
			return good(1, kv("Access-Control-Allow-Credentials", "true"), nil, kv("Access-Control-Allow-Credentials", "True"), kv("Access-Control-Allow-Credentials", "false"))
		}
		bc.preflight = append(append(origin(), creds()...), good(3,
			kv("Access-Control-Allow-Methods", "GET, PUT, DELETE"), kv("Access-Control-Allow-Methods", "*"), kv("Access-Control-Allow-Methods", " ,DELETE,, PUT"),
			nil, kv("Access-Control-Allow-Methods", "PUT"), kv("Access-Control-Allow-Methods", "put, delete"), kv("Access-Control-Allow-Methods", "GET PUT"))...)
		bc.preflight = append(bc.preflight, good(3,
			kv("Access-Control-Allow-Headers", "Authorization, Traceparent, X-Amzn-Trace-Id, Content-Type"), kv("Access-Control-Allow-Headers", "*, Authorization"), kv("Access-Control-Allow-Headers", "*"),
			nil, kv("Access-Control-Allow-Headers", "content-type"), kv("Access-Control-Allow-Headers", "traceparent; x-amzn-trace-id"), kv("Access-Control-Allow-Headers", "x-amzn-trace-id", "Access-Control-Allow-Headers", "content-type"))...)
		bc.preflightStatus = []int{200, 204, 204, 204, 204, 204, 404, 401, 500}[rng.IntN(9)]
		if rng.IntN(10) == 0 {
			bc.preflightStatus = []int{301, 302, 307, 308}[rng.IntN(4)]
			bc.preflight = append(bc.preflight, "Location", "/elsewhere")
		}
		bc.actual = append(origin(), creds()...)
		bc.status = []int{200, 200, 201, 404, 500, 502}[rng.IntN(6)]
		bc.name = fmt.Sprintf("%03d %s include=%v headers=%v", i, bc.method, bc.include, bc.headers)
		out[i] = bc
	}
	return out
}

// TestBrowserDifferential replays 150 generated exchanges in headless
// Chromium: corscheck must block exactly those Chromium blocks, in
// Chromium's words, except where Chromium knowingly departs from the
// standard (Authorization under a '*' Allow-Headers).
func TestBrowserDifferential(t *testing.T) {
	cases := randomCases(150)
	rp := newReplay(t, cases)
	results := rp.run(t)
	blocked, lenient := 0, 0
	for i, bc := range cases {
		t.Run(bc.name, func(t *testing.T) {
			if rp.check(t, i, results[i]) {
				lenient++
			}
		})
		if results[i].Blocked {
			blocked++
		}
	}
	t.Logf("%d cases: Chromium blocked %d; %d differ only by Chromium's Authorization leniency", len(cases), blocked, lenient)
	// The generator must exercise both outcomes, or the test shows nothing.
	if blocked < len(cases)/5 || len(cases)-blocked < len(cases)/10 {
		t.Errorf("unbalanced cases: %d blocked of %d", blocked, len(cases))
	}
}
