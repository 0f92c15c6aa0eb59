package sampling_test

import (
	"fmt"
	"time"

	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

func ExampleParse() {
	rules, err := sampling.Parse([]byte(`{
	  "version": 2,
	  "rules": [{"description": "no health checks", "host": "*", "http_method": "GET",
	             "url_path": "/healthz", "fixed_target": 0, "rate": 0}],
	  "default": {"fixed_target": 1, "rate": 0.05}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Now()
	fmt.Println(rules.Sample(sampling.Request{Method: "GET", Path: "/healthz"}, now))
	fmt.Println(rules.Sample(sampling.Request{Method: "GET", Path: "/orders"}, now)) // the default rule's reservoir
	// Output:
	// false
	// true
}
