package samplingproxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/samplingproxy"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, fake *fakeaws.Server) (*samplingproxy.Proxy, *status.Counters) {
	t.Helper()
	counters := status.NewCounters()
	p, err := samplingproxy.New(samplingproxy.Config{Addr: "127.0.0.1:0", Endpoint: fake.URL(), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(fakeaws.AccessKeyID, fakeaws.SecretAccessKey, ""), Counters: counters, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return p, counters
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestForwardsSignedSamplingCalls sends the requests an X-Ray SDK sends to
// the daemon and checks they reach X-Ray signed (the fake refuses
// unsigned requests) with the reference responses passed back.
func TestForwardsSignedSamplingCalls(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	rules, err := schematest.ReadReference("samples/sampling-getsamplingrules-response.json")
	if err != nil {
		t.Fatal(err)
	}
	targets, err := schematest.ReadReference("samples/sampling-getsamplingtargets-response.json")
	if err != nil {
		t.Fatal(err)
	}
	stats, err := schematest.ReadReference("samples/sampling-getsamplingtargets-request-statistics.json")
	if err != nil {
		t.Fatal(err)
	}
	fake.SetSamplingResponses(rules, targets)
	p, counters := start(t, fake)
	base := "http://" + p.Addr().String()
	code, body := post(t, base+"/GetSamplingRules", `{"NextToken":null}`)
	if code != 200 || !json.Valid([]byte(body)) || !strings.Contains(body, "SamplingRuleRecords") {
		t.Fatalf("GetSamplingRules: %d %s", code, body)
	}
	code, body = post(t, base+"/SamplingTargets", string(stats))
	if code != 200 || !strings.Contains(body, "SamplingTargetDocuments") {
		t.Fatalf("SamplingTargets: %d %s", code, body)
	}
	if string(fake.LastBody("GetSamplingTargets")) != string(stats) {
		t.Fatal("request body not forwarded unchanged")
	}
	if fake.Unsigned() != 0 || counters.Get("sampling.forwarded") != 2 {
		t.Fatalf("unsigned %d, counters %v", fake.Unsigned(), counters.Snapshot())
	}
	// X-Ray errors pass through with their status and type.
	fake.Fail(fakeaws.XRay, 1, fakeaws.FaultThrottle)
	code, _ = post(t, base+"/GetSamplingRules", `{}`)
	if code != http.StatusTooManyRequests {
		t.Fatalf("throttle passed through as %d", code)
	}
}

// TestNotAnOpenProxy: nothing but the two sampling calls is forwarded.
func TestNotAnOpenProxy(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	p, counters := start(t, fake)
	base := "http://" + p.Addr().String()
	for _, tc := range []struct{ method, path string }{
		{"POST", "/TraceSegments"}, {"GET", "/GetSamplingRules"}, {"POST", "/GetSamplingRules?x=1"},
		{"POST", "/../TraceSegments"}, {"POST", "http://169.254.169.254/latest/meta-data/"}, {"CONNECT", "example.com:443"},
	} {
		req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(`{}`))
		if err != nil {
			continue
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("%s %s forwarded", tc.method, tc.path)
		}
	}
	if fake.Requests("PutTraceSegments") != 0 || fake.Requests("GetSamplingRules") != 0 {
		t.Fatal("a refused request reached X-Ray")
	}
	if counters.Get("sampling.refused") == 0 {
		t.Fatal("refusals not counted")
	}
	code, _ := post(t, base+"/GetSamplingRules", strings.Repeat("x", 70<<10))
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversize body: %d", code)
	}
}

func TestHangingXRayIsBounded(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	p, counters := start(t, fake)
	fake.Hang(fakeaws.XRay, true)
	code, _ := post(t, "http://"+p.Addr().String()+"/GetSamplingRules", `{}`)
	if code != http.StatusBadGateway || counters.Get("sampling.failed") != 1 {
		t.Fatalf("hanging X-Ray: %d, %v", code, counters.Snapshot())
	}
}

// TestLocalRules: in local mode the proxy answers itself with a rule the
// SDK's types decode, sampling everything, and still refuses the rest.
func TestLocalRules(t *testing.T) {
	counters := status.NewCounters()
	p, err := samplingproxy.New(samplingproxy.Config{Addr: "127.0.0.1:0", Local: true, Counters: counters})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	base := "http://" + p.Addr().String()
	code, body := post(t, base+"/GetSamplingRules", `{}`)
	var rules struct {
		SamplingRuleRecords []struct {
			SamplingRule struct {
				RuleName  string
				FixedRate float64
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &rules); err != nil || code != 200 || len(rules.SamplingRuleRecords) != 1 ||
		rules.SamplingRuleRecords[0].SamplingRule.FixedRate != 1 {
		t.Fatalf("%d %s %v", code, body, err)
	}
	if code, _ := post(t, base+"/SamplingTargets", `{"SamplingStatisticsDocuments":[]}`); code != 200 {
		t.Fatalf("targets: %d", code)
	}
	if code, _ := post(t, base+"/TraceSegments", `{}`); code != 404 {
		t.Fatalf("other path: %d", code)
	}
}

func ExampleNew() {
	_, err := samplingproxy.New(samplingproxy.Config{Endpoint: "ftp://x"})
	fmt.Println(err != nil)
	// Output: true
}
