// Package red records RED metrics (rate, errors, duration) for HTTP
// requests and writes them as CloudWatch EMF documents.
//
// The HTTP middleware calls [Recorder.Observe] once per request. Observe
// aggregates in memory per (route, method, status class) — no allocation,
// no goroutine, no I/O — and a background loop flushes every Interval
// (10 s by default) and on Shutdown, one EMF document (or several, when the
// latency array is longer than 100 values) per series:
//
//	Latency      Milliseconds  one value per request (bucketed, ≤3 % error;
//	                           thinned to MaxLatencyValues per series per flush)
//	Requests     Count         exact request count
//	ClientErrors Count         4xx responses
//	Faults       Count         5xx responses
//	Throttles    Count         429 responses
//
// with dimension sets [Service, Route, Method, StatusClass] and [Service],
// and the properties SlowestTraceId and ErrorTraceId, so a metric links to
// an X-Ray trace. Cardinality is bounded: methods outside the nine standard
// ones become OTHER, an empty route becomes "unmatched", routes beyond
// MaxRoutes become "overflow", and status codes outside 100–599 form the
// class "other".
//
// Wiring, in the HTTP middleware:
//
//	rec, err := red.New(red.Config{Service: "orders"}) // once
//	...
//	start := time.Now()
//	next.ServeHTTP(rw, r)
//	rec.Observe(r.Pattern, r.Method, rw.status, time.Since(start), sc.TraceID())
//	...
//	rec.Shutdown(ctx) // on server shutdown: writes the last interval
package red
