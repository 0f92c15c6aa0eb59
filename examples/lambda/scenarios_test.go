package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/lambdatest"
)

func wantGateway502(t *testing.T, r reply) {
	t.Helper()
	if r.status != 502 || strings.TrimSpace(r.body) != `{"message":"Internal server error"}` {
		t.Errorf("want API Gateway's 502, got %d %s", r.status, r.body)
	}
	if v := r.header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("the gateway's 502 carries Access-Control-Allow-Origin %q", v)
	}
}

func wantCORS(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("want %d with CORS headers, got %d %v %s", status, r.status, r.header, r.body)
	}
}

func annotations(sub xraytest.Segment, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = sub.Annotations[k]
	}
	return out
}

// TestScenarios runs every scenario, broken then fixed, through the local
// API Gateway and the real emulator, and checks what the tutorial says
// the trace, the EMF metrics, the REPORT line and the client show, and
// scenario 4 in headless Chromium. One example (two emulators) serves them
// all, in the tutorial's order.
func TestScenarios(t *testing.T) {
	e := startExample(t)

	t.Run("1 cold start", func(t *testing.T) {
		r := e.call(t, "GET", "/coldstart/broken")
		wantCORS(t, r, 200)
		sub := e.functionSubsegment(t, r.trace)
		if sub.Annotations["cold_start"] != true || sub.Annotations["scenario"] != "coldstart" || sub.Fault {
			t.Errorf("subsegment: %s", sub.Raw)
		}
		doc := e.emf.invocationDoc(t, r.trace)
		if doc["ColdStart"] != 1.0 || doc["Service"] != "shop" {
			t.Errorf("invocation metrics: %v", doc)
		}
		// Four settings read one after the other, 300 ms each.
		if ms, _ := doc["InitDuration"].(float64); ms < 1200 {
			t.Errorf("InitDuration %v ms, want at least 1200", doc["InitDuration"])
		}
		e.emf.docs.Wait(t, "the ColdStart document of shop-slowinit", func(s string) bool {
			return strings.Contains(s, `"FunctionName":"shop-slowinit"`) && strings.Contains(s, `"ColdStart":1`)
		})
		if rep := e.report(t, r.trace); !strings.Contains(rep, "\tInit Duration: ") {
			t.Errorf("cold REPORT without Init Duration: %q", rep)
		}

		warm := e.call(t, "GET", "/coldstart/broken")
		if sub := e.functionSubsegment(t, warm.trace); sub.Annotations["cold_start"] != false {
			t.Errorf("second invocation: %v", sub.Annotations)
		}
		if doc := e.emf.invocationDoc(t, warm.trace); doc["ColdStart"] != 0.0 || doc["InitDuration"] != nil {
			t.Errorf("warm metrics: %v", doc)
		}
		if rep := e.report(t, warm.trace); strings.Contains(rep, "Init Duration") {
			t.Errorf("warm REPORT with Init Duration: %q", rep)
		}

		fixed := e.call(t, "GET", "/coldstart/fixed")
		wantCORS(t, fixed, 200)
		if sub := e.functionSubsegment(t, fixed.trace); sub.Annotations["cold_start"] != true {
			t.Errorf("first call to shop: %v", sub.Annotations)
		}
		if doc := e.emf.invocationDoc(t, fixed.trace); doc["InitDuration"] == nil {
			t.Errorf("fixed metrics: %v", doc)
		}
	})

	t.Run("2 timeout", func(t *testing.T) {
		r := e.call(t, "GET", "/timeout/broken")
		wantGateway502(t, r)
		sub := e.functionSubsegment(t, r.trace)
		if !sub.Fault || sub.Annotations["timeout"] != true || sub.Cause == nil || sub.Cause.Exceptions[0].Type != "sidelight.Timeout" {
			t.Errorf("timeout report: %s", sub.Raw)
		}
		if sub.Annotations["cors_verdict"] != "blocked" || sub.Annotations["cors_code"] != "missing-allow-origin" {
			t.Errorf("CORS verdict on the gateway's answer: %v", annotations(sub, "cors_verdict", "cors_code"))
		}
		doc := e.emf.invocationDoc(t, r.trace)
		if doc["Timeout"] != 1.0 || doc["Errors"] != 1.0 || doc["CORSBlocked"] != 1.0 {
			t.Errorf("timeout metrics: %v", doc)
		}
		e.out.Wait(t, "the gateway's timeout line", func(s string) bool {
			return strings.Contains(s, r.trace) && strings.Contains(s, "Task timed out after 3.00 seconds")
		})
		// The call still running had no subsegment yet (calls are recorded
		// when they end), but the inventory's segment for it is in the
		// trace, under that missing subsegment.
		if _, ok := sub.Find("127.0.0.1"); ok {
			t.Errorf("the hanging call is in the timeout report: %s", sub.Raw)
		}
		slow := lambdatest.WaitDocument(t, e.daemon, "the inventory's /slow segment", func(d xraytest.Segment) bool {
			return d.Name == "inventory" && d.TraceID == r.trace
		})
		if !strings.HasSuffix(slow.HTTP.Request.URL, "/slow") || slow.ParentID == sub.ID {
			t.Errorf("inventory segment: %s", slow.Raw)
		}

		fixed := e.call(t, "GET", "/timeout/fixed")
		wantCORS(t, fixed, 504)
		sub = e.functionSubsegment(t, fixed.trace)
		if sub.Annotations["timeout"] != nil || sub.Cause == nil || !strings.Contains(sub.Cause.Exceptions[0].Message, "deadline exceeded") {
			t.Errorf("fixed: %s", sub.Raw)
		}
		call, ok := sub.Find("127.0.0.1")
		if !ok || !call.Fault {
			t.Errorf("the inventory call, cut short, is not a faulted subsegment: %s", sub.Raw)
		}
		if doc := e.emf.invocationDoc(t, fixed.trace); doc["Timeout"] != 0.0 || doc["CORSBlocked"] != 0.0 {
			t.Errorf("fixed metrics: %v", doc)
		}
	})

	t.Run("3 panic", func(t *testing.T) {
		r := e.call(t, "POST", "/panic/broken")
		wantGateway502(t, r)
		sub := e.functionSubsegment(t, r.trace)
		if !sub.Fault || sub.Cause == nil || len(sub.Cause.Exceptions) == 0 {
			t.Fatalf("panic: %s", sub.Raw)
		}
		ex := sub.Cause.Exceptions[0]
		if !strings.Contains(ex.Message, "nil pointer dereference") || len(ex.Stack) == 0 || ex.Stack[0].Label != "main.placeOrder" {
			t.Errorf("the cause should start at the panicking frame: %+v", ex)
		}
		if doc := e.emf.invocationDoc(t, r.trace); doc["Errors"] != 1.0 {
			t.Errorf("panic metrics: %v", doc)
		}
		e.out.Wait(t, "the runtime's exit", func(s string) bool { return strings.Contains(s, "Runtime.ExitError") })

		fixed := e.call(t, "POST", "/panic/fixed")
		wantCORS(t, fixed, 400)
		sub = e.functionSubsegment(t, fixed.trace)
		// The process restarted after the panic.
		if sub.Fault || sub.Annotations["invalid_order"] != true || sub.Annotations["cold_start"] != true {
			t.Errorf("fixed: %s", sub.Raw)
		}
	})

	t.Run("4 returned error", func(t *testing.T) {
		r := e.call(t, "GET", "/error/broken")
		wantGateway502(t, r)
		sub := e.functionSubsegment(t, r.trace)
		if !sub.Fault || sub.Cause == nil || sub.Cause.Exceptions[0].Message != "load cart c-404: cart not found" {
			t.Errorf("error: %s", sub.Raw)
		}
		if sub.Annotations["cors_verdict"] != "blocked" || sub.Annotations["cors_code"] != "missing-allow-origin" || sub.Annotations["cors_origin"] != e.page {
			t.Errorf("verdict: %v", annotations(sub, "cors_verdict", "cors_code", "cors_origin"))
		}
		if doc := e.emf.invocationDoc(t, r.trace); doc["CORSBlocked"] != 1.0 || doc["cors_code"] != "missing-allow-origin" || doc["Errors"] != 1.0 {
			t.Errorf("metrics: %v", doc)
		}

		fixed := e.call(t, "GET", "/error/fixed")
		wantCORS(t, fixed, 404)
		sub = e.functionSubsegment(t, fixed.trace)
		if !sub.Error || sub.HTTP.Response.Status != 404 || sub.Cause == nil || !strings.Contains(sub.Cause.Exceptions[0].Message, "cart not found") || sub.Annotations["cors_verdict"] != "allowed" {
			t.Errorf("fixed: %s", sub.Raw)
		}
		if doc := e.emf.invocationDoc(t, fixed.trace); doc["CORSBlocked"] != 0.0 || doc["Errors"] != 0.0 {
			t.Errorf("fixed metrics: %v", doc)
		}
	})

	t.Run("4 in the browser", func(t *testing.T) { browserScenario4(t, e) })

	t.Run("5 propagation", func(t *testing.T) {
		r := e.call(t, "GET", "/propagation/broken")
		wantCORS(t, r, 200)
		var seen struct {
			Header string `json:"trace_header_received"`
		}
		if err := json.Unmarshal([]byte(r.body), &seen); err != nil || seen.Header != "" {
			t.Errorf("broken: the inventory got %q (%v)", seen.Header, err)
		}
		sub := e.functionSubsegment(t, r.trace)
		if _, ok := sub.Find("127.0.0.1"); ok {
			t.Errorf("a call made without the RoundTripper was recorded: %s", sub.Raw)
		}

		fixed := e.call(t, "GET", "/propagation/fixed")
		wantCORS(t, fixed, 200)
		if err := json.Unmarshal([]byte(fixed.body), &seen); err != nil || !strings.Contains(seen.Header, "Root="+fixed.trace) {
			t.Errorf("fixed: the inventory got %q (%v)", seen.Header, err)
		}
		sub = e.functionSubsegment(t, fixed.trace)
		call, ok := sub.Find("127.0.0.1")
		if !ok || call.Namespace != "remote" || !call.HTTP.Request.Traced {
			t.Fatalf("the call is not recorded: %s", sub.Raw)
		}
		inv := lambdatest.WaitDocument(t, e.daemon, "the inventory's segment in the function's trace", func(d xraytest.Segment) bool {
			return d.Name == "inventory" && d.TraceID == fixed.trace
		})
		if inv.ParentID != call.ID {
			t.Errorf("the inventory's segment has parent %s, want the call's subsegment %s", inv.ParentID, call.ID)
		}
		// Nothing of the inventory joined the broken trace.
		docs, _ := e.daemon.Documents()
		for _, d := range docs {
			if d.Name == "inventory" && d.TraceID == r.trace {
				t.Errorf("the broken call's inventory segment is in the function's trace: %s", d.Raw)
			}
		}
	})

	t.Run("6 goroutine", func(t *testing.T) {
		before := e.app.inv.audits.Load()
		r := e.call(t, "GET", "/goroutine/broken")
		wantCORS(t, r, 200)
		sub := e.functionSubsegment(t, r.trace)
		if _, ok := sub.Find("127.0.0.1"); ok {
			t.Errorf("the goroutine's call is in the invocation's subsegment: %s", sub.Raw)
		}
		e.out.Wait(t, "the lost audit's log line", func(s string) bool {
			return strings.Contains(s, "audit record not written") || strings.Contains(s, "audit metric lost")
		})
		// The goroutine's call ended after the invocation: sent on its
		// own, after its parent (in Lambda, the process would be frozen
		// and it might never leave).
		late := lambdatest.WaitDocument(t, e.daemon, "the late call's subsegment", func(d xraytest.Segment) bool {
			return d.TraceID == r.trace && d.ParentID == sub.ID && d.Type == "subsegment"
		})
		if late.StartTime < sub.StartTime || late.EndTime < sub.EndTime {
			t.Errorf("late call %v..%v, invocation %v..%v", late.StartTime, late.EndTime, sub.StartTime, sub.EndTime)
		}
		if doc := e.emf.invocationDoc(t, r.trace); doc["AuditWrites"] != nil {
			t.Errorf("broken: AuditWrites in the invocation's metrics: %v", doc)
		}

		fixed := e.call(t, "GET", "/goroutine/fixed")
		wantCORS(t, fixed, 200)
		sub = e.functionSubsegment(t, fixed.trace)
		call, ok := sub.Find("127.0.0.1")
		if !ok || call.HTTP.Response.Status != 200 {
			t.Errorf("fixed: the audit call is not in the invocation's subsegment: %s", sub.Raw)
		}
		if doc := e.emf.invocationDoc(t, fixed.trace); doc["AuditWrites"] != 1.0 {
			t.Errorf("fixed metrics: %v", doc)
		}
		if got := e.app.inv.audits.Load(); got != before+1 {
			t.Errorf("audit records written: %d, want %d (only the fixed variant's)", got-before, 1)
		}
	})

	t.Run("unknown path", func(t *testing.T) {
		r := e.call(t, "GET", "/nothing")
		if r.status != 403 || !strings.Contains(r.body, "Missing Authentication Token") {
			t.Errorf("unknown resource: %d %s", r.status, r.body)
		}
	})
}
