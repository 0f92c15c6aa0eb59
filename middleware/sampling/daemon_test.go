package sampling

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// What the Sidelight sidecar answers in local mode, and a response of
// X-Ray's shape with a custom rule before the default.
const (
	localModeRules = `{"SamplingRuleRecords":[{"SamplingRule":{"RuleName":"Default","RuleARN":"arn:aws:xray:local::sampling-rule/Default",` +
		`"ResourceARN":"*","Priority":10000,"FixedRate":1,"ReservoirSize":0,"ServiceName":"*","ServiceType":"*","Host":"*",` +
		`"HTTPMethod":"*","URLPath":"*","Version":1,"Attributes":{}},"CreatedAt":0,"ModifiedAt":0}]}`
	xrayRules = `{"SamplingRuleRecords":[
	 {"SamplingRule":{"RuleName":"Default","Priority":10000,"FixedRate":0,"ReservoirSize":0,"ServiceName":"*","ServiceType":"*","Host":"*","HTTPMethod":"*","URLPath":"*","ResourceARN":"*","Version":1}},
	 {"SamplingRule":{"RuleName":"ecs-only","Priority":1,"FixedRate":1,"ReservoirSize":5,"ServiceName":"*","ServiceType":"AWS::ECS::Container","Host":"*","HTTPMethod":"*","URLPath":"*","ResourceARN":"*","Version":1}},
	 {"SamplingRule":{"RuleName":"orders","Priority":5,"FixedRate":1,"ReservoirSize":0,"ServiceName":"shop","ServiceType":"*","Host":"*","HTTPMethod":"GET","URLPath":"/orders/*","ResourceARN":"*","Version":1}}]}`
)

func TestParseSamplingRules(t *testing.T) {
	now := time.Unix(1700000000, 0)
	local, err := ParseSamplingRules([]byte(localModeRules))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if !local.Sample(Request{Method: "GET", Path: "/x", ServiceName: "s"}, now) {
			t.Fatalf("local-mode rules did not sample request %d", i)
		}
	}
	rs, err := ParseSamplingRules([]byte(xrayRules))
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Sample(Request{Method: "GET", Path: "/orders/7", ServiceName: "shop"}, now) {
		t.Error("the orders rule (rate 1) did not sample")
	}
	// The ECS-only rule is skipped (requests carry no service type), so
	// others fall to the default (rate 0, no reservoir).
	if rs.Sample(Request{Method: "POST", Path: "/orders", ServiceName: "shop"}, now) {
		t.Error("the default rule (rate 0) sampled")
	}
	for name, body := range map[string]string{
		"not json":   `{`,
		"no default": `{"SamplingRuleRecords":[]}`,
		"bad rate":   strings.Replace(localModeRules, `"FixedRate":1`, `"FixedRate":2`, 1),
		"null rule":  `{"SamplingRuleRecords":[{}]}`,
	} {
		if _, err := ParseSamplingRules([]byte(body)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Daemon decides with the fallback until the daemon answers, then with
// the daemon's rules; the fetch never runs on the request's path.
func TestDaemon(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != "POST" || r.URL.Path != "/GetSamplingRules" {
			http.Error(w, "no", 404)
			return
		}
		<-release
		w.Write([]byte(localModeRules))
	}))
	defer srv.Close()
	never := func() *Rules { r, _ := Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":0}}`)); return r }()
	rs := Daemon(strings.TrimPrefix(srv.URL, "http://"), never)
	req := Request{Method: "GET", Path: "/", ServiceName: "s"}
	if rs.Sample(req, time.Now()) {
		t.Error("sampled before the daemon answered (the fallback samples nothing)")
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for !rs.Sample(req, time.Now()) {
		if time.Now().After(deadline) {
			t.Fatal("the daemon's rules (sample everything) never applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d fetches, want 1 (the next is due in 5 minutes)", n)
	}
}

// A daemon that does not answer leaves the fallback in charge.
func TestDaemonUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	rs := Daemon(addr, nil)
	rs.Sample(Request{Method: "GET", Path: "/"}, time.Now()) // starts the first fetch
	for deadline := time.Now().Add(10 * time.Second); rs.daemon.fetches.Load() < 1 || rs.daemon.inFlight.Load(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no fetch was tried")
		}
	}
	now := time.Unix(1700000000, 0)
	n := 0
	for range 100 {
		if rs.Sample(Request{Method: "GET", Path: "/"}, now) {
			n++
		}
	}
	if n < 1 || n > 30 {
		t.Errorf("%d of 100 sampled in one second; want the default's 1 plus about 5 %%", n)
	}
}

// Building the rules fetches nothing: the first fetch waits for the first
// request, so a process that never serves one never dials the daemon.
func TestDaemonFetchesOnFirstRequest(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Write([]byte(localModeRules))
	}))
	defer srv.Close()
	rs := Daemon(strings.TrimPrefix(srv.URL, "http://"), nil)
	time.Sleep(50 * time.Millisecond)
	if n := calls.Load(); n != 0 || rs.daemon.inFlight.Load() {
		t.Fatalf("%d fetches before any request", n)
	}
	rs.Sample(Request{Method: "GET", Path: "/"}, time.Now())
	for deadline := time.Now().Add(10 * time.Second); calls.Load() < 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first request started no fetch")
		}
	}
}

// FuzzParseSamplingRules: any body gives rules or an error, never a panic,
// and rules that parse sample without panicking.
func FuzzParseSamplingRules(f *testing.F) {
	f.Add([]byte(localModeRules))
	f.Add([]byte(xrayRules))
	f.Add([]byte(`{"SamplingRuleRecords":[{"SamplingRule":null}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := ParseSamplingRules(body)
		if err != nil {
			return
		}
		rs.Sample(Request{Host: "h", Method: "GET", Path: "/a", ServiceName: "s"}, time.Unix(1700000000, 0))
	})
}

// A daemon that answers with an error (X-Ray denied GetSamplingRules) is
// asked again after 5 minutes, not every 10 seconds.
func TestDaemonRefusedWaits(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, `{"message":"AccessDenied"}`, http.StatusForbidden)
	}))
	defer srv.Close()
	rs := Daemon(strings.TrimPrefix(srv.URL, "http://"), nil)
	req := Request{Method: "GET", Path: "/"}
	rs.Sample(req, time.Now()) // starts the first fetch
	wait := func(want int32) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for calls.Load() < want || rs.daemon.inFlight.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("%d fetches, want %d", calls.Load(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait(1)
	rs.Sample(req, time.Now().Add(time.Minute))
	time.Sleep(50 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("asked again after a minute: %d fetches", n)
	}
	rs.Sample(req, time.Now().Add(6*time.Minute))
	wait(2)
}

// Shutdown cancels a fetch in flight, waits for it, and no fetch starts
// afterwards; the fallback keeps deciding.
func TestDaemonShutdownStopsFetching(t *testing.T) {
	var calls atomic.Int32
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.ReadAll(r.Body) // then the server notices the client leaving
		arrived <- struct{}{}
		<-r.Context().Done() // a daemon that never answers
	}))
	defer srv.Close()
	before := goleak.IgnoreCurrent()
	rs := Daemon(strings.TrimPrefix(srv.URL, "http://"), nil)
	rs.Sample(Request{Method: "GET", Path: "/"}, time.Now())
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rs.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := goleak.Find(before); err != nil {
		t.Fatalf("after Shutdown: %v", err)
	}
	rs.Sample(Request{Method: "GET", Path: "/"}, time.Now().Add(time.Hour))
	if err := goleak.Find(before); err != nil || calls.Load() != 1 {
		t.Fatalf("a fetch started after Shutdown (%d calls): %v", calls.Load(), err)
	}
	if err := Default().Shutdown(ctx); err != nil {
		t.Errorf("Shutdown of fixed rules: %v", err)
	}
}
