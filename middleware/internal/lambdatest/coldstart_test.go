package lambdatest_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/lambdatest"
)

// BenchmarkColdStart measures, for the bare function and the same function
// wrapped by the middleware, the time from starting the process to the
// answer of its first invocation (through the runtime API, with a trace
// header, so the wrapped run also sends its subsegment and metrics). The
// difference is what the middleware adds to a cold start. It reports the
// median as ms/first-answer; ns/op is the mean, including stopping the
// process.
//
//	go test -run '^$' -bench ColdStart -benchtime 40x ./middleware/internal/lambdatest
func BenchmarkColdStart(b *testing.B) {
	d, err := xraytest.NewDaemon()
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	for _, form := range []string{"bare", "sidelight"} {
		b.Run(form, func(b *testing.B) {
			api := newRuntimeAPI(b)
			env := []string{
				"AWS_LAMBDA_RUNTIME_API=" + api.addr(),
				"AWS_XRAY_DAEMON_ADDRESS=" + d.Addr(),
				"AWS_LAMBDA_FUNCTION_NAME=orders-fn",
			}
			if form == "bare" {
				env = append(env, "SIDELIGHT_TEST_FORM=bare")
			}
			var samples []time.Duration
			for i := 0; b.Loop(); i++ {
				id := fmt.Sprint(form, i)
				api.pending <- apiInvocation{id: id, traceHeader: "Root=" + traceFor(i) + ";Parent=" + parentFor(i) + ";Sampled=1", payload: apiEvent("/fail", i), timeout: time.Minute}
				start := time.Now()
				p := lambdatest.StartProcess(b, env, functionBinary)
				r := api.result(b, id)
				samples = append(samples, time.Since(start))
				if r.failed {
					b.Fatalf("answer %+v", r)
				}
				p.Stop(b)
			}
			sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
			b.ReportMetric(float64(samples[len(samples)/2])/float64(time.Millisecond), "ms/first-answer")
		})
	}
	d.Reset()
}
