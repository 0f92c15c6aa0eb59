package localview

import (
	"math"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// segLinkFixture has traces where a downstream service fails and its
// caller does not, and the other way round, segments much shorter than
// their traces, and a segment that starts in a later time column than
// its trace: what the overview counts per segment, and a trace-level
// filter gets wrong.
type segLinkFixture struct {
	*routeLinkFixture // srv and list
	counted           []countedSeg
}

// countedSeg is one segment the overview counts, as the fixture wrote it.
type countedSeg struct {
	trace, service, route string
	start                 float64
	dur                   time.Duration
	marks                 []string
}

func newSegLinkFixture(t *testing.T) *segLinkFixture {
	s := newStore(t, Config{})
	var g ids
	now := time.Now().Add(-time.Second)
	f := &segLinkFixture{routeLinkFixture: &routeLinkFixture{}}
	// trace adds a trace whose root is the first segment; each further
	// segment is its child, at its own offset. In-progress segments
	// (dur 0) are stored but not counted.
	type seg struct {
		service, route string
		off, dur       time.Duration
		marks          []string
	}
	trace := func(at time.Time, segs ...seg) {
		id := g.traceID(at)
		parent := ""
		for _, sg := range segs {
			m := map[string]any{"name": sg.service, "id": g.id(), "trace_id": id, "start_time": ts(at.Add(sg.off))}
			if sg.dur > 0 {
				m["end_time"] = ts(at.Add(sg.off + sg.dur))
			} else {
				m["in_progress"] = true
			}
			if parent != "" {
				m["parent_id"] = parent
			}
			if sg.route != "" {
				m["annotations"] = map[string]any{"route": sg.route}
			}
			for _, k := range sg.marks {
				m[k] = true
			}
			mustAdd(t, s, doc(t, m))
			parent = m["id"].(string)
			if sg.dur > 0 {
				f.counted = append(f.counted, countedSeg{id, sg.service, sg.route, ts(at.Add(sg.off)), sg.dur, sg.marks})
			}
		}
	}
	ms := time.Millisecond
	// inventory faults, shop answers.
	trace(now.Add(-50*time.Second), seg{"shop", "GET /items", 0, 30 * ms, nil}, seg{"inventory", "", ms, 5 * ms, []string{"fault"}})
	// shop faults, inventory answers.
	trace(now.Add(-40*time.Second), seg{"shop", "GET /items", 0, 8 * ms, []string{"fault"}}, seg{"inventory", "", ms, 6 * ms, nil})
	// shop errs on its own.
	trace(now.Add(-30*time.Second), seg{"shop", "POST /orders", 0, 12 * ms, []string{"error"}})
	// inventory throttles (and errs), shop answers.
	trace(now.Add(-26*time.Second), seg{"shop", "GET /items", 0, 10 * ms, nil}, seg{"inventory", "", 2 * ms, 4 * ms, []string{"throttle", "error"}})
	// A long job: shop's segment lasts 20 s, inventory's starts 21 s
	// after the trace, in a later column, and is short.
	trace(now.Add(-45*time.Second), seg{"shop", "POST /orders", 0, 20 * time.Second, nil}, seg{"inventory", "GET /stock", 21 * time.Second, 2 * ms, nil})
	// shop only in progress: not counted.
	trace(now.Add(-15*time.Second), seg{"shop", "GET /items", 0, 0, nil})
	// inventory on its own, slow.
	trace(now.Add(-10*time.Second), seg{"inventory", "", 0, 300 * ms, []string{"error"}})
	f.srv = httptest.NewServer(s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// linkQuery builds a figure's link as overview.js does: one segment of
// the row's service (and route) the overview counts, with the figure's
// marker or minimum duration, started in [since, until).
func linkQuery(service string, route *string, status string, minMS float64, since, until int64) string {
	v := url.Values{"seg_service": {service}}
	if route != nil {
		v.Set("seg_route", *route)
	}
	if status != "" {
		v.Set("seg_status", status)
	}
	if minMS > 0 {
		v.Set("seg_min_ms", strconv.FormatFloat(minMS, 'g', -1, 64))
	}
	v.Set("seg_since", strconv.FormatInt(since, 10))
	v.Set("seg_until", strconv.FormatInt(until, 10))
	return v.Encode() + "&limit=1000"
}

// want lists the traces holding a counted segment that passes keep.
func (f *segLinkFixture) want(keep func(c countedSeg) bool) []string {
	var ids []string
	for _, c := range f.counted {
		if keep(c) && !slices.Contains(ids, c.trace) {
			ids = append(ids, c.trace)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestAPIOverviewLinksListTheirFigures: for every figure of the
// overview (a row's requests, errors, faults, throttles, p50/p90/p99
// and each timeline column, for services and routes), the link the page
// builds lists exactly the traces holding a segment the figure counts,
// and as many as the figure says (one counted segment per row and trace
// here). With trace-level filters, shop's faults listed the trace where
// only inventory faulted, its percentiles the long job's trace for
// inventory, and columns went by the trace's start.
func TestAPIOverviewLinksListTheirFigures(t *testing.T) {
	f := newSegLinkFixture(t)
	var o overviewResult
	getInto(t, f.srv.URL+"/api/overview", &o)
	if o.To <= o.From || o.From < o.Start {
		t.Fatalf("counted range [%d, %d), columns from %d", o.From, o.To, o.Start)
	}
	figures := 0
	check := func(name, query string, n int, want []string) {
		t.Helper()
		figures++
		got := f.list(t, query)
		if len(got) != n || !slices.Equal(got, want) {
			t.Errorf("%s = %d: its link (%s) lists %v, want %v", name, n, query, got, want)
		}
	}
	inRow := func(service string, route *string) func(c countedSeg) bool {
		return func(c countedSeg) bool { return c.service == service && (route == nil || c.route == *route) }
	}
	marked := func(c countedSeg, mark string) bool { return slices.Contains(c.marks, mark) }
	rowChecks := func(r *overviewRow, route *string) {
		name := r.Service
		if route != nil {
			name += " " + strconv.Quote(*route)
		}
		row := inRow(r.Service, route)
		tot := r.Total
		check(name+" requests", linkQuery(r.Service, route, "", 0, o.From, o.To), tot.Requests, f.want(row))
		for _, m := range []struct {
			flag string
			n    int
		}{{"error", tot.Errors}, {"fault", tot.Faults}, {"throttle", tot.Throttles}} {
			check(name+" "+m.flag+"s", linkQuery(r.Service, route, m.flag, 0, o.From, o.To), m.n,
				f.want(func(c countedSeg) bool { return row(c) && marked(c, m.flag) }))
		}
		for _, p := range []float64{tot.P50MS, tot.P90MS, tot.P99MS} {
			bin := latencyBin(p / 1000)
			want := f.want(func(c countedSeg) bool { return row(c) && latencyBin(c.dur.Seconds()) >= bin })
			n := 0
			for _, c := range f.counted {
				if row(c) && latencyBin(c.dur.Seconds()) >= bin {
					n++
				}
			}
			check(name+" p "+strconv.FormatFloat(p, 'g', 4, 64), linkQuery(r.Service, route, "", p*math.Pow(2, -1.0/8), o.From, o.To), n, want)
		}
		for i, c := range r.Columns {
			if c.Requests == 0 {
				continue
			}
			lo := max(o.Start+int64(i)*o.ColumnSeconds, o.From)
			hi := min(o.Start+int64(i+1)*o.ColumnSeconds, o.To)
			check(name+" column "+strconv.Itoa(i), linkQuery(r.Service, route, "", 0, lo, hi), c.Requests,
				f.want(func(c countedSeg) bool { return row(c) && c.start >= float64(lo) && c.start < float64(hi) }))
		}
	}
	for _, sr := range o.Services {
		rowChecks(sr, nil)
		for _, r := range sr.Routes {
			rowChecks(r, &r.Route)
		}
	}
	if len(o.Services) != 2 || figures < 40 {
		t.Errorf("%d services, %d figures checked; want shop and inventory, all their figures", len(o.Services), figures)
	}
	// The figures the trace-level filters got wrong.
	shop := findRow(t, o, "shop", "")
	if shop.Total.Faults != 1 || shop.Total.Requests != 5 {
		t.Errorf("shop: %d requests, %d faults; want 5 and 1", shop.Total.Requests, shop.Total.Faults)
	}
}

// TestBrowserOverviewShareLinksCountTheRowsSegments: clicking a service
// row's fault share lists the traces where that service's own segment
// faulted, as many as the share says: shop's lists the trace where shop
// faulted and not the one where only inventory did, and inventory's the
// other way round; the list says which segment it asks for.
func TestBrowserOverviewShareLinksCountTheRowsSegments(t *testing.T) {
	ctx := browser(t)
	f := newSegLinkFixture(t)
	for _, c := range []struct{ service, cell, text string }{
		{"shop", "fault", "20% (1)"},
		{"inventory", "fault", "20% (1)"},
		{"inventory", "error", "40% (2)"},
		{"inventory", "p99", ""},
	} {
		t.Run(c.service+" "+c.cell, func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+"/#/overview")); err != nil {
				t.Fatal(err)
			}
			sel := `#overview tr.service-row[data-service="` + c.service + `"] td.` + c.cell + ` a`
			poll(t, ctx, "the overview's row", `document.querySelector(`+jsString(sel)+`) !== null`)
			if c.text != "" {
				if got := eval[string](t, ctx, `document.querySelector(`+jsString(sel)+`).textContent`); got != c.text {
					t.Errorf("%s %s = %q, want %q", c.service, c.cell, got, c.text)
				}
			}
			click(t, ctx, sel)
			poll(t, ctx, "the figure's traces", `location.hash.startsWith('#/traces?') && document.getElementById('trace-list') !== null && document.getElementById('trace-list').dataset.renders !== '0'`)
			got := eval[[]string](t, ctx, `[...document.querySelectorAll('#trace-list tr.trace-row')].map(r => r.dataset.traceId).sort()`)
			want := f.want(func(s countedSeg) bool {
				if s.service != c.service {
					return false
				}
				if c.cell == "p99" {
					return s.dur >= 300*time.Millisecond // inventory's slowest
				}
				return slices.Contains(s.marks, c.cell)
			})
			if !slices.Equal(got, want) {
				t.Errorf("the link lists %v, want %v", got, want)
			}
			if note := eval[string](t, ctx, `document.getElementById('segment-filter').textContent`); !strings.Contains(note, "of "+c.service) {
				t.Errorf("the list says %q of its filter", note)
			}
		})
	}
}

// TestBrowserSegmentFilterNoteIsText: the list's note on the overview's
// segment filter shows the service and route it was given as text.
func TestBrowserSegmentFilterNoteIsText(t *testing.T) {
	ctx := browser(t)
	f := newSegLinkFixture(t)
	evil := `<img src=x onerror="document.title='pwned'">`
	u := f.srv.URL + "/#/traces?" + url.Values{"seg_service": {evil}, "seg_route": {evil}}.Encode()
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the list", `document.getElementById('segment-filter') !== null && document.getElementById('trace-list') !== null && document.getElementById('trace-list').dataset.renders !== '0'`)
	note := eval[string](t, ctx, `document.getElementById('segment-filter').textContent`)
	if strings.Count(note, evil) != 2 {
		t.Errorf("the note reads %q, want the service and route as given", note)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#segment-filter img, main img').length`); n != 0 {
		t.Errorf("%d img elements from telemetry text", n)
	}
	if rows := eval[int](t, ctx, `document.querySelectorAll('#trace-list tr.trace-row').length`); rows != 0 {
		t.Errorf("%d traces for a service that does not exist", rows)
	}
}
