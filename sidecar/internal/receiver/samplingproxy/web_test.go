package samplingproxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seed-c77c9410/sidelight/internal/browsertest"
	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
)

// send posts body to path with the given Host and headers.
func send(t *testing.T, base, path, host string, hdr map[string]string, body string) int {
	t.Helper()
	req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header[k] = []string{v}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestRefusesWhatAWebPageCanSend: the proxy signs with the sidecar's
// credentials, so what a page can make a browser send must not reach
// X-Ray: a Host other than a loopback name (DNS rebinding), the content
// types a page may POST cross-origin without a preflight, and anything
// carrying the headers browsers add (Origin, Sec-Fetch-*).
func TestRefusesWhatAWebPageCanSend(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	p, counters := start(t, fake)
	base := "http://" + p.Addr().String()
	json := map[string]string{"Content-Type": "application/json"}
	for _, tc := range []struct {
		name string
		host string
		hdr  map[string]string
		want int
	}{
		{"rebound name", "rebind.attacker.example:2000", json, http.StatusMisdirectedRequest},
		{"loopback-looking name", "127.0.0.1.nip.io:2000", json, http.StatusMisdirectedRequest},
		{"text/plain", "", map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, http.StatusUnsupportedMediaType},
		{"TEXT/PLAIN", "", map[string]string{"Content-Type": "TEXT/PLAIN"}, http.StatusUnsupportedMediaType},
		{"form", "", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"multipart", "", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, http.StatusUnsupportedMediaType},
		{"unparsable", "", map[string]string{"Content-Type": "text/plain;;x"}, http.StatusUnsupportedMediaType},
		{"Origin", "", map[string]string{"Content-Type": "application/json", "Origin": "https://attacker.example"}, http.StatusForbidden},
		{"blob without type", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, http.StatusForbidden},
		{"Origin null", "", map[string]string{"Origin": "null"}, http.StatusForbidden},
	} {
		for _, path := range []string{"/GetSamplingRules", "/SamplingTargets"} {
			if got := send(t, base, path, tc.host, tc.hdr, `{}`); got != tc.want {
				t.Errorf("%s %s: status %d, want %d", tc.name, path, got, tc.want)
			}
		}
	}
	if n := fake.Requests("GetSamplingRules") + fake.Requests("GetSamplingTargets"); n != 0 {
		t.Fatalf("%d refused requests reached X-Ray signed", n)
	}
	if got := counters.Get("sampling.refused"); got != 20 {
		t.Errorf("sampling.refused = %d, want 20", got)
	}
}

// TestSamplersContentTypesAreServed: what the X-Ray SDKs and the
// OpenTelemetry X-Ray samplers send, read from their sources. The Go, Java,
// Python, Node.js and .NET X-Ray SDKs send application/json (the Go, Python
// and .NET ones through their AWS SDK's REST-JSON serializer); the
// OpenTelemetry Java and Python samplers send application/json; the
// OpenTelemetry Go sampler sends no Content-Type, and the JavaScript one
// none on GetSamplingRules (an empty body).
func TestSamplersContentTypesAreServed(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	p, _ := start(t, fake)
	base := "http://" + p.Addr().String()
	cases := []struct {
		name, path, ctype, host, body string
	}{
		{"X-Ray SDKs, OTel Java/Python", "/GetSamplingRules", "application/json", "", `{}`},
		{"X-Ray SDKs, OTel Java/Python", "/SamplingTargets", "application/json", "", `{"SamplingStatisticsDocuments":[]}`},
		{"charset", "/SamplingTargets", "application/json; charset=utf-8", "", `{"SamplingStatisticsDocuments":[]}`},
		{"OTel Go", "/GetSamplingRules", "", "", `{"NextToken": null}`},
		{"OTel Go", "/SamplingTargets", "", "", `{"SamplingStatisticsDocuments":[]}`},
		{"OTel JS rules", "/GetSamplingRules", "", "", ``},
		{"localhost name", "/GetSamplingRules", "application/json", "localhost:2000", `{}`},
	}
	for _, tc := range cases {
		hdr := map[string]string{}
		if tc.ctype != "" {
			hdr["Content-Type"] = tc.ctype
		}
		if got := send(t, base, tc.path, tc.host, hdr, tc.body); got != 200 {
			t.Errorf("%s %s (Content-Type %q): status %d, want 200", tc.name, tc.path, tc.ctype, got)
		}
	}
	if n := fake.Requests("GetSamplingRules") + fake.Requests("GetSamplingTargets"); n != len(cases) {
		t.Errorf("%d requests reached X-Ray, want %d", n, len(cases))
	}
}

// TestBrowserCannotUseTheProxy drives a real Chromium: a page on another
// origin POSTs to the proxy the ways a page can without a preflight
// (text/plain, a form, a Blob with no type), and a page whose name was
// rebound to 127.0.0.1 POSTs JSON same-origin. None may reach X-Ray.
func TestBrowserCannotUseTheProxy(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	p, counters := start(t, fake)
	_, port, _ := strings.Cut(p.Addr().String(), ":")
	target := "http://127.0.0.1:" + port

	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><form id=f method=post enctype="text/plain" target=sink action="`+target+`/SamplingTargets">`+
			`<input name='{"a":"' value='"}'></form><iframe name=sink></iframe>`)
	}))
	defer page.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// rebind.test resolves to 127.0.0.1, as a DNS-rebinding name would.
	bctx, _ := browsertest.Start(ctx, t, chromedp.Flag("host-resolver-rules", "MAP rebind.test 127.0.0.1"))
	if err := chromedp.Do(bctx, chromedp.Navigate(page.URL)); err != nil {
		t.Fatal(err)
	}
	script := `(async () => {
		const u = "` + target + `";
		await fetch(u + "/GetSamplingRules", {method: "POST", mode: "no-cors", body: "{}"}).catch(() => {});
		await fetch(u + "/SamplingTargets", {method: "POST", mode: "no-cors", body: new Blob(["{}"])}).catch(() => {});
		await fetch(u + "/SamplingTargets", {method: "POST", mode: "no-cors", body: new URLSearchParams("a=b")}).catch(() => {});
		document.getElementById("f").submit();
		return true;
	})()`
	if _, err := browsertest.Eval[bool](bctx, script); err != nil {
		t.Fatal(err)
	}
	// The rebound page: same origin as the proxy, so it may send JSON and
	// read the answer.
	if err := chromedp.Do(bctx, chromedp.Navigate("http://rebind.test:"+port+"/")); err != nil {
		t.Fatal(err)
	}
	status, err := browsertest.Eval[int](bctx, `fetch("/GetSamplingRules", {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"}).then(r => r.status)`)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusMisdirectedRequest {
		t.Errorf("the rebound page got status %d, want 421", status)
	}
	// Five requests from the browser (three fetches, the form, the rebound
	// page) plus the rebound navigation itself, all refused.
	deadline := time.Now().Add(20 * time.Second)
	for counters.Get("sampling.refused") < 6 && time.Now().Before(deadline) {
		select {
		case <-fake.Changed():
		case <-time.After(20 * time.Millisecond):
		}
	}
	if n := fake.Requests("GetSamplingRules") + fake.Requests("GetSamplingTargets"); n != 0 {
		t.Errorf("%d requests from web pages reached X-Ray signed with the sidecar's credentials", n)
	}
	if got := counters.Get("sampling.refused"); got < 6 {
		t.Errorf("sampling.refused = %d, want at least 6 (every browser request)", got)
	}
}
