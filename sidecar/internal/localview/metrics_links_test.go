package localview

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// redDoc is an EMF document as the Sidelight middleware writes one per
// route, method and status class: dimension sets [Service, Route, Method,
// StatusClass] and [Service], counts, latencies and the trace IDs of the
// slowest and of a failed request.
func redDoc(t *testing.T, at time.Time, service, method, class string, requests, faults int, slowest, failed string) []byte {
	t.Helper()
	m := map[string]any{
		"_aws": map[string]any{"Timestamp": at.UnixMilli(), "CloudWatchMetrics": []any{map[string]any{
			"Namespace": "Sidelight", "Dimensions": []any{[]any{"Service", "Route", "Method", "StatusClass"}, []any{"Service"}},
			"Metrics": []any{map[string]any{"Name": "Requests", "Unit": "Count"}, map[string]any{"Name": "Faults", "Unit": "Count"},
				map[string]any{"Name": "Latency", "Unit": "Milliseconds"}},
		}}},
		"Service": service, "Route": "GET /orders/{id}", "Method": method, "StatusClass": class,
		"Requests": requests, "Faults": faults, "Latency": []float64{3, 5}, "SlowestTraceId": slowest,
	}
	if failed != "" {
		m["ErrorTraceId"] = failed
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A metric point links only to traces of its series: the service-level
// Faults point links to the failed request's trace, not to the 200 trace
// of the same service's 2xx document, and a trace of another service or
// status class named by a document is not linked.
func TestMetricPointLinksItsOwnTraces(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	var g ids
	seg := func(service string, status int) string {
		tid := g.traceID(t0)
		mustAdd(t, s, doc(t, map[string]any{"name": service, "id": g.id(), "trace_id": tid, "start_time": ts(t0),
			"end_time": ts(t0.Add(time.Millisecond)), "fault": status >= 500,
			"http": map[string]any{"request": map[string]any{"method": "GET", "url": "http://x/orders/1"},
				"response": map[string]any{"status": status}}}))
		return tid
	}
	ok, boom, other := seg("orders", 200), seg("orders", 500), seg("billing", 500)
	for _, d := range [][]byte{
		redDoc(t, t0, "orders", "GET", "2xx", 20, 0, ok, ""),
		redDoc(t, t0, "orders", "GET", "5xx", 1, 1, boom, boom),
		redDoc(t, t0, "orders", "GET", "5xx", 1, 1, other, ok), // names traces not of this series
	} {
		if err := s.AddEMF(d); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string][]string{}
	for _, se := range s.metrics(metricsQuery{}).Series {
		key := se.Name
		for _, d := range se.Dimensions {
			if d.Key == "StatusClass" {
				key += "/" + d.Value
			}
		}
		for _, p := range se.Points {
			links[key] = append(links[key], p.TraceIDs...)
		}
		slices.Sort(links[key])
	}
	want := map[string][]string{
		"Faults":       {boom}, // service level: not the 200 trace, not billing's
		"Faults/5xx":   {boom}, // not billing's 500, not the 200
		"Faults/2xx":   nil,    // Faults: 0
		"Requests/2xx": {ok},   // the 2xx document's trace
		"Requests":     sorted(ok, boom),
		"Latency/5xx":  {boom},
	}
	for k, w := range want {
		if fmt.Sprint(links[k]) != fmt.Sprint(w) {
			t.Errorf("%s links %v, want %v", k, links[k], w)
		}
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// A Lambda invocation's document (dimension Service, no Route) links to its
// own trace (xray_trace_id), whose segments are the gateway's stage and the
// function's independent subsegment, none named after the service.
func TestMetricPointLinksLambdaInvocation(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	var g ids
	tid, stage := g.traceID(t0), g.id()
	mustAdd(t, s, doc(t, map[string]any{"name": "shop-api/local", "id": stage, "trace_id": tid, "start_time": ts(t0),
		"end_time": ts(t0.Add(time.Millisecond))}))
	mustAdd(t, s, doc(t, map[string]any{"name": "## shop-fn", "id": g.id(), "trace_id": tid, "parent_id": stage, "type": "subsegment",
		"start_time": ts(t0), "end_time": ts(t0.Add(time.Millisecond))}))
	b, err := json.Marshal(map[string]any{
		"_aws": map[string]any{"Timestamp": t0.UnixMilli(), "CloudWatchMetrics": []any{map[string]any{
			"Namespace": "SidelightExamples", "Dimensions": []any{[]any{"Service"}},
			"Metrics": []any{map[string]any{"Name": "CORSBlocked", "Unit": "Count"}},
		}}},
		"Service": "shop", "CORSBlocked": 1, "xray_trace_id": tid, "function_request_id": "r-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddEMF(b); err != nil {
		t.Fatal(err)
	}
	var linked []string
	for _, se := range s.metrics(metricsQuery{}).Series {
		for _, p := range se.Points {
			linked = append(linked, p.TraceIDs...)
		}
	}
	if fmt.Sprint(linked) != fmt.Sprint([]string{tid}) {
		t.Errorf("links %v, want [%s]", linked, tid)
	}
}

// Grouping sums each document's values once, whichever of its dimension
// sets they came through: the middleware writes every value to
// [Service, Route, Method, StatusClass] and to [Service], and a sum over
// both would double every count. Grouped points keep their trace links.
func TestMetricsGroupBy(t *testing.T) {
	s := newStore(t, Config{Now: func() time.Time { return t0 }})
	var g ids
	boom := g.traceID(t0)
	mustAdd(t, s, doc(t, map[string]any{"name": "orders", "id": g.id(), "trace_id": boom, "start_time": ts(t0),
		"end_time": ts(t0.Add(time.Millisecond)), "fault": true,
		"http": map[string]any{"request": map[string]any{"method": "GET"}, "response": map[string]any{"status": 500}}}))
	for _, d := range [][]byte{
		redDoc(t, t0, "orders", "GET", "2xx", 20, 0, "", ""),
		redDoc(t, t0, "orders", "GET", "5xx", 2, 2, boom, boom),
		redDoc(t, t0, "billing", "POST", "2xx", 5, 0, "", ""),
	} {
		if err := s.AddEMF(d); err != nil {
			t.Fatal(err)
		}
	}
	sums := func(group string) map[string]float64 {
		out := map[string]float64{}
		for _, se := range s.metrics(metricsQuery{group: group}).Series {
			key := se.Name
			for _, d := range se.Dimensions {
				key += "/" + d.Key + "=" + d.Value
			}
			for _, p := range se.Points {
				if se.Kind == "latency" {
					out[key] += float64(p.N)
				} else {
					out[key] += p.Sum
				}
				if se.Name == "Faults" && len(p.TraceIDs) > 0 {
					out[key+" linked"] = float64(len(p.TraceIDs))
				}
			}
		}
		return out
	}
	for group, want := range map[string]map[string]float64{
		"Service": {"Requests/Service=orders": 22, "Requests/Service=billing": 5, "Faults/Service=orders": 2,
			"Faults/Service=orders linked": 1, "Latency/Service=orders": 4},
		"*":           {"Requests": 27, "Faults": 2, "Latency": 6},
		"StatusClass": {"Requests/StatusClass=2xx": 25, "Requests/StatusClass=5xx": 2},
		"Nope":        {"Requests/Nope=(none)": 27},
	} {
		got := sums(group)
		for k, w := range want {
			if got[k] != w {
				t.Errorf("group %q: %s = %v, want %v (all: %v)", group, k, got[k], w, got)
			}
		}
	}
	if keys := s.metrics(metricsQuery{}).DimensionKeys; fmt.Sprint(keys) != "[Method Route Service StatusClass]" {
		t.Errorf("dimension keys = %v", keys)
	}
}
