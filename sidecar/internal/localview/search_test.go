package localview

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The search box's text (q) in the JSON API: a filter expression, a trace
// ID or header, with time range and sort.
func TestAPISearch(t *testing.T) {
	f := newAPIFixture(t)
	sc, ok0, ok1, thr := f.sc.traceID, f.okIDs[0], f.okIDs[1], f.thrID
	w3c := strings.ReplaceAll(sc[2:], "-", "")
	cases := []struct {
		query string
		want  []string
	}{
		{"q=fault", []string{sc}},
		{"q=" + url.QueryEscape(`annotation.cors = "allowed" AND responsetime > 0.04`), []string{sc}},
		{"q=" + url.QueryEscape(`annotation.cors = "allowed" AND responsetime > 0.05`), nil},
		{"q=" + url.QueryEscape(`annotation.cors`), []string{thr, sc}},
		{"q=" + url.QueryEscape(`annotation.ColdStart = true`), []string{sc}},
		{"q=" + url.QueryEscape(`annotation.route CONTAINS "orders"`), []string{sc}},
		{"q=" + url.QueryEscape(`service("orders") OR throttle`), []string{thr, sc}},
		{"q=" + url.QueryEscape(`ok AND duration >= 0.1`), []string{ok1}},
		{"q=" + url.QueryEscape(`http.status >= 500`), []string{sc}},
		{"q=" + url.QueryEscape(`http.url BEGINSWITH "https://shop"`), []string{sc}},
		{"q=" + url.QueryEscape(`NOT (fault OR error)`), []string{ok1, ok0}},
		{"q=fault&status=ok", nil}, // the other filters still apply
		{"q=ok&service=health", []string{ok0}},
		// One trace, by any of its names: X-Ray ID, W3C ID, both headers.
		{"q=" + sc, []string{sc}},
		{"q=" + strings.ToUpper(w3c), []string{sc}},
		{"q=" + url.QueryEscape("00-"+w3c+"-53995c3f42cd8ad8-01"), []string{sc}},
		{"q=" + url.QueryEscape("X-Amzn-Trace-Id: Root="+sc+";Parent=53995c3f42cd8ad8;Sampled=1"), []string{sc}},
		// Time range on the start time (the fixture's clock is at t0+3s).
		{"since=1.5s", []string{thr, sc}},
		{fmt.Sprintf("since=%d&until=%d", t0.Add(time.Second).Unix(), t0.Add(2*time.Second).Unix()), []string{sc, ok1}},
		{"until=" + url.QueryEscape(t0.Add(500*time.Millisecond).Format(time.RFC3339Nano)), []string{ok0}},
		{"since=1h&q=ok", []string{ok1, ok0}},
		// Sort by time or duration, either order.
		{"sort=time", []string{thr, sc, ok1, ok0}},
		{"sort=time&order=asc", []string{ok0, ok1, sc, thr}},
		{"sort=duration", []string{ok1, sc, ok0, thr}},
		{"sort=duration&order=asc&limit=2", []string{thr, ok0}},
	}
	for _, c := range cases {
		var l traceList
		if resp := f.get(t, "/api/traces?"+c.query, &l); resp.StatusCode != 200 {
			t.Fatalf("?%s: status %d", c.query, resp.StatusCode)
		}
		var got []string
		for _, tr := range l.Traces {
			got = append(got, tr.ID)
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("?%s = %v, want %v", c.query, got, c.want)
		}
		if l.Matched != len(c.want) && !strings.Contains(c.query, "limit") {
			t.Errorf("?%s: matched %d, want %d", c.query, l.Matched, len(c.want))
		}
		byID := strings.Contains(strings.ToLower(c.query), w3c) || strings.Contains(c.query, "q="+sc) || strings.Contains(c.query, "Root%3D"+sc)
		if want := map[bool]string{true: sc}[byID]; l.TraceID != want {
			t.Errorf("?%s: trace_id %q, want %q", c.query, l.TraceID, want)
		}
	}
	// A header names the trace the page goes to, even before it arrived.
	var l traceList
	f.get(t, "/api/traces?q="+url.QueryEscape("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"), &l)
	if l.TraceID != "1-5759e988-bd862e3fe1be46a994272793" || l.Matched != 0 {
		t.Errorf("header search: trace_id %q, matched %d", l.TraceID, l.Matched)
	}
}

// What the search cannot use is answered 400 with the offset it is
// about, never with an empty list.
func TestAPISearchErrors(t *testing.T) {
	f := newAPIFixture(t)
	for _, c := range []struct {
		q      string
		offset int
		msg    string
	}{
		{`annotation.cors_code = "preflight-status" AND responsetime >`, 60, "expected a number after '>'"},
		{`edge("a", "b")`, 0, "not supported in local mode"},
		{`group.name = "x" OR fault`, 0, "not supported in local mode"},
		{`fault AND rootcause.fault.type = "x"`, 10, "not supported in local mode"},
		{`latency > 1`, 0, "unknown keyword"},
		{`(fault`, 6, "expected ')'"},
	} {
		var e struct {
			Error  string
			Offset *int
		}
		resp := f.get(t, "/api/traces?q="+url.QueryEscape(c.q), &e)
		if resp.StatusCode != 400 || e.Offset == nil || *e.Offset != c.offset || !strings.Contains(e.Error, c.msg) {
			t.Errorf("q=%s: status %d, %+v; want 400, %q at %d", c.q, resp.StatusCode, e, c.msg, c.offset)
		}
	}
	for _, q := range []string{"since=yesterday", "until=-1", "sort=name", "order=up"} {
		var e struct{ Error string }
		if resp := f.get(t, "/api/traces?"+q, &e); resp.StatusCode != 400 || e.Error == "" {
			t.Errorf("?%s: status %d, error %q; want 400 with a message", q, resp.StatusCode, e.Error)
		}
	}
}
