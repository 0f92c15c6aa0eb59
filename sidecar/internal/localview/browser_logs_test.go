package localview

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/otlplogs"
)

// TestBrowserTraceLogs: the trace page shows the trace's OTLP log records
// right under the waterfall, in time order, each with its severity,
// service and body (telemetry text as text, never markup); a record's
// span ID selects that span's row, which carries a log count; a trace
// whose spans never arrived still shows its records, and one without
// records shows no panel.
func TestBrowserTraceLogs(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	s := newStore(t, Config{})
	var g ids
	sc := newScenario(t, &g, now.Add(-time.Second))
	mustAdd(t, s, sc.docs...)
	hostile := `<img src=x onerror="document.body.dataset.pwned=1">`
	errRec := logRec(t, sc.traceID, now.Add(-time.Second+30*time.Millisecond), 17, "order store unavailable: connection refused", sc.ordersID)
	errRec.SeverityText = "ERROR"
	errRec.Attributes = []byte(`{"db.system":"postgresql","retry":3}`)
	errRec.Service = "orders"
	info := logRec(t, sc.traceID, now.Add(-time.Second+time.Millisecond), 9, hostile, "")
	info.Service = "frontend"
	plainID, plain := okTrace(t, &g, now, "health", 3*time.Millisecond)
	mustAdd(t, s, plain)
	logsOnly := g.traceID(now)
	s.AddLogs([]otlplogs.Record{errRec, info, logRec(t, logsOnly, now, 13, "spans never came", "")})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/trace/"+sc.traceID)); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the trace's log records", `document.querySelectorAll('#trace-logs tr.log-row').length === 2`)
	if next := eval[string](t, ctx, `document.getElementById('waterfall').nextElementSibling.id`); next != "trace-logs" {
		t.Errorf("the element after the waterfall is %q, want the logs", next)
	}
	type row struct{ Sev, Level, Service, Body, Span, Attrs string }
	rows := eval[[]row](t, ctx, `[...document.querySelectorAll('#trace-logs tr.log-row')].map(r => ({
		Sev: r.querySelector('.sev').textContent, Level: r.dataset.severity, Service: r.cells[2].textContent,
		Body: r.querySelector('.log-body').textContent, Span: r.cells[4].textContent, Attrs: r.cells[5].textContent}))`)
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	// Time order: the info record (1 ms in) before the error (30 ms in).
	if r := rows[0]; r.Sev != "info" || r.Level != "info" || r.Service != "frontend" || r.Body != hostile || r.Span != "" {
		t.Errorf("first row %+v", r)
	}
	if r := rows[1]; r.Sev != "ERROR" || r.Level != "error" || r.Service != "orders" || r.Body != "order store unavailable: connection refused" ||
		r.Span != sc.ordersID || !strings.Contains(r.Attrs, "db.system=postgresql") || !strings.Contains(r.Attrs, "retry=3") {
		t.Errorf("second row %+v", r)
	}
	if eval[bool](t, ctx, `document.body.dataset.pwned === '1' || !!document.querySelector('#trace-logs img')`) {
		t.Error("a log body became markup")
	}
	if tag := eval[string](t, ctx, `document.querySelector('#waterfall .wf-row[data-id="`+sc.ordersID+`"] .tag.log-count').textContent`); tag != "1 log" {
		t.Errorf("orders row tag %q", tag)
	}
	click(t, ctx, `#trace-logs a.span-link`)
	poll(t, ctx, "the span selected", `document.querySelector('#waterfall .wf-row.selected').dataset.id === '`+sc.ordersID+`'`)
	if !eval[bool](t, ctx, `document.querySelectorAll('#trace-logs tr.log-row')[1].classList.contains('of-selected')`) {
		t.Error("the selected span's record is not marked")
	}
	if d := eval[string](t, ctx, `document.querySelector('#node-detail h3').textContent`); !strings.HasPrefix(d, "orders") {
		t.Errorf("detail shows %q", d)
	}
	screenshot(t, ctx, "localview-trace-logs.png")

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/trace/"+logsOnly)); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "a trace with logs and no spans", `document.querySelectorAll('#trace-logs tr.log-row').length === 1 && !!document.querySelector('main .notice')`)
	if b := eval[string](t, ctx, `document.querySelector('#trace-logs .log-body').textContent`); b != "spans never came" {
		t.Errorf("logs-only body %q", b)
	}

	// A trace without records looks as it did before logs: no panel.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/trace/"+plainID)); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "a trace without logs", `document.querySelectorAll('#waterfall .wf-row').length === 1 && location.hash.includes('`+plainID+`')`)
	if eval[bool](t, ctx, `!!document.getElementById('trace-logs') || !!document.querySelector('#waterfall .tag.log-count')`) {
		t.Error("a trace without log records shows a logs panel or tag")
	}
}
