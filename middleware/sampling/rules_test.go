package sampling

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

func TestParsePublishedRules(t *testing.T) {
	for _, name := range []string{
		"sampling-local-rules-v2-devguide.json",
		"sampling-ExampleSamplingRules-xray-sdk-go.json",
		"sampling-DefaultSamplingRules-xray-sdk-go.json",
	} {
		data, err := schematest.ReadReference(filepath.Join("samples", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":          `{`,
		"no version":        `{"default":{"fixed_target":1,"rate":0.1}}`,
		"version 3":         `{"version":3,"default":{"fixed_target":1,"rate":0.1}}`,
		"no default":        `{"version":2,"rules":[]}`,
		"rate over 1":       `{"version":2,"default":{"fixed_target":1,"rate":1.5}}`,
		"negative target":   `{"version":2,"default":{"fixed_target":-1,"rate":0.1}}`,
		"missing rate":      `{"version":2,"default":{"fixed_target":1}}`,
		"default with path": `{"version":2,"default":{"fixed_target":1,"rate":0.1,"url_path":"/x"}}`,
		"v2 without host":   `{"version":2,"rules":[{"http_method":"*","url_path":"*","fixed_target":1,"rate":0}],"default":{"fixed_target":1,"rate":0.1}}`,
		"v1 with host":      `{"version":1,"rules":[{"host":"*","service_name":"*","http_method":"*","url_path":"*","fixed_target":1,"rate":0}],"default":{"fixed_target":1,"rate":0.1}}`,
		"null rule":         `{"version":2,"rules":[null],"default":{"fixed_target":1,"rate":0.1}}`,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSampleReservoirAndRate(t *testing.T) {
	rules, err := Parse([]byte(`{"version":2,
		"rules":[
		  {"host":"*","http_method":"GET","url_path":"/healthz","fixed_target":0,"rate":0},
		  {"host":"api.*","http_method":"*","url_path":"/checkout*","fixed_target":3,"rate":1}],
		"default":{"fixed_target":2,"rate":0}}`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	count := func(req Request, n int, at time.Time) int {
		k := 0
		for i := 0; i < n; i++ {
			if rules.Sample(req, at) {
				k++
			}
		}
		return k
	}
	if got := count(Request{Host: "x", Method: "GET", Path: "/healthz"}, 100, now); got != 0 {
		t.Errorf("health checks sampled %d times", got)
	}
	if got := count(Request{Host: "API.example.com", Method: "POST", Path: "/checkout/pay"}, 100, now); got != 100 {
		t.Errorf("checkout sampled %d of 100 at rate 1", got)
	}
	if got := count(Request{Host: "x", Method: "GET", Path: "/other"}, 100, now); got != 2 {
		t.Errorf("default reservoir gave %d in one second, want 2", got)
	}
	if got := count(Request{Host: "x", Method: "GET", Path: "/other"}, 100, now.Add(time.Second)); got != 2 {
		t.Errorf("reservoir did not refill in the next second: %d", got)
	}
}

func TestDefaultRate(t *testing.T) {
	rules := Default()
	now := time.Unix(5000, 0)
	sampled := 0
	const n = 20000
	for i := 0; i < n; i++ {
		if rules.Sample(Request{Method: "GET", Path: "/"}, now) {
			sampled++
		}
	}
	// 1 from the reservoir plus about 5 % of the rest: 1000 expected, and a
	// binomial spread of ±31; 6 sigma keeps this test from flaking.
	if sampled < 1000-190 || sampled > 1000+190 {
		t.Fatalf("sampled %d of %d, want about 1000", sampled, n)
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"", "", true}, {"", "a", false},
		{"/api/*", "/api/users/1", true}, {"/api/*", "/apx", false},
		{"GET", "get", true}, {"?ET", "GET", true}, {"?ET", "ET", false},
		{"*.example.com", "api.example.com", true}, {"*.example.com", "example.com", false},
		{"a*b*c", "aXXbYYc", true}, {"a*b*c", "aXXbYY", false}, {"**", "x", true},
	} {
		if got := Match(c.p, c.s); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, err := schematest.ReadReference("samples/sampling-local-rules-v2-devguide.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"version":1,"rules":[{"service_name":"*","http_method":"*","url_path":"*","fixed_target":1,"rate":0.5}],"default":{"fixed_target":0,"rate":0}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		rules, err := Parse(doc)
		if err != nil {
			return
		}
		// A parsed rule set always decides without panicking.
		rules.Sample(Request{Host: "h", Method: "GET", Path: "/"}, time.Unix(1, 0))
	})
}

func FuzzMatch(f *testing.F) {
	f.Add("a*b?c", "aXbYc")
	f.Fuzz(func(t *testing.T, p, s string) {
		got := Match(p, s)
		if p == s && !got {
			t.Fatalf("Match(%q, itself) = false", p)
		}
		if p == "*" && !got {
			t.Fatal("* did not match")
		}
	})
}

func BenchmarkSample(b *testing.B) {
	rules, _ := Parse([]byte(`{"version":2,"rules":[{"host":"*","http_method":"*","url_path":"/api/move/*","fixed_target":0,"rate":0.05}],"default":{"fixed_target":1,"rate":0.05}}`))
	req := Request{Host: "api.example.com", Method: "GET", Path: "/api/users/42"}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		rules.Sample(req, now)
	}
}
