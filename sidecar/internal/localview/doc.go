// Package localview is Sidelight's local mode: a bounded, in-process store
// for the X-Ray segments, EMF metric documents and OTLP log records the
// sidecar receives when it runs without AWS, and the web view and JSON API
// that show them.
//
// The sidecar feeds it with [Store.AddSegment] (one segment or independent
// subsegment document, without the daemon's header line) and
// [Store.AddEMFDocument] (one EMF document as the sidecar's EMF receiver
// parsed it, never parsed again here; [Store.AddEMF] parses one with the
// same strict parser), through an [Inbox] from receive loops that must not
// wait, and mounts [Store.Handler] on a loopback listener. The
// store keeps whole traces (every document sharing a trace_id), evicts the
// oldest traces first when it is over its trace count or byte budget or when
// they fall out of the retention window, and, when given a file, writes what
// it holds on [Store.Close] (or [Store.Persist]) and reads it back in [New].
//
// OTLP log records come in through [Store.AddLogs] (or [Inbox.AddLogs]),
// as package otlplogs turned them out of the receiver's decoded request:
// they are never parsed again. They are kept by trace ID (the X-Ray form
// of the record's W3C trace ID, as OTLP spans' segments have it), those
// without a trace ID in a list of their own (MaxUnlinkedLogs), within
// bounds of their own (MaxLogRecords, MaxLogBytes) so that logs never
// evict traces; the oldest received go first, and evictions are counted
// in /api/stats. The trace page lists a trace's records in time order
// under the waterfall, each record's span ID a link to its span's row.
// The persistence file holds them too (after the traces and metrics, in
// arrival order, so that loading them keeps the same bounds); a line that
// cannot be read, a bad record, one too long to read, or a file cut short,
// is skipped and reported in one log line, and the lines around it kept.
//
// [Listen] opens a listener that refuses non-loopback addresses unless told
// otherwise, and [URL] gives the address to print at start-up:
//
//	l, err := localview.Listen(localview.DefaultAddr, false)
//	...
//	logger.Info("local mode: no AWS credentials; open the view", "url", localview.URL(l.Addr()))
//	go http.Serve(l, store.Handler())
//
// The view is plain HTML, CSS and JavaScript embedded in the binary. It
// renders all telemetry-derived text through DOM text nodes, is served with a
// strict Content-Security-Policy, and the handler refuses requests whose Host
// header is not a loopback name (DNS rebinding) unless more hosts are allowed.
//
// The trace list is newest first by arrival of a trace's first document
// (live telemetry arrives in start order, give or take the time a segment
// is in flight); eviction and the retention window go by the same time.
// A status filter matches traces that have that marker on any segment or
// subsegment (throttled segments also carry "error"); "ok" matches traces
// with none. An annotation filter is key=value (exact) or a key alone.
//
// The search box (q) takes a trace ID (X-Ray or W3C), a whole
// X-Amzn-Trace-Id or traceparent header, or an X-Ray filter expression
// (package xrayfilter has the grammar). For an ID or header the answer
// names the trace in trace_id and the page opens it. What q cannot use is
// answered 400 with {"error": ..., "offset": N}, N the byte offset in q it
// is about; X-Ray keywords local mode cannot answer say so. since and
// until bound the trace's start: a duration before now (15m), epoch
// seconds or RFC 3339. sort=time|duration orders by start time or
// duration, newest or longest first unless order=asc.
//
// The landing page is the overview: per service (segment name) and per
// route (the segment's "route" annotation), request rate, error, fault
// and throttle shares and p50/p90/p99 latency, on one time axis, each
// figure a link to exactly the traces holding a segment it counts (the
// seg_ parameters of /api/traces, so that a trace where a downstream
// service failed is not listed under its caller's faults). The store
// keeps it up to date as segments arrive and leave, in cells per
// (service, route, 10 s) with a log-scale latency histogram (bins 9 % apart; a percentile is its
// bin's upper bound), at most 1,000 (service, route) pairs (further ones
// share one "(other)" row).
//
// The page reloads its data every 3 s (live) until paused; a page with a
// form keeps it as the user left it. With no data yet a page says what to
// send where (Config.Inputs). A trace's page instead reads the trace's
// version at each tick and is drawn again, keeping the selected span,
// only when spans or log records arrived; it asks nothing while the tab is
// hidden, and stops asking once the trace is complete and unchanged for a
// minute (ten, in progress or not), until "check again".
//
// Each segment's version is its Version annotation
// (deployversion.AnnotationKey), else its service.version (versions.go
// has the details). The store records when each version of a service
// first appears in the traffic: at most [MaxDeployments] markers, the
// earliest dropped and counted when a new one arrives on a full list;
// markers outlive the traces they came from. The compare page (#/compare)
// and /api/compare judge a rollout with package compare: the segments of
// one service, split into a baseline and a candidate by version, by a
// window on their start, or both, compared route by route (the "route"
// annotation, else method and URL path) in one pass over the store; the
// answer has each route's verdict, rates and percentiles, the overall
// verdict, the method and the minimum sample size, for a pipeline step.
//
// JSON API (all GET):
//
//	/api/overview?since=&until=   per service and route: totals and one column per time step
//	/api/traces?q=&since=&until=&sort=time|duration&order=asc|desc
//	           &service=&call=&status=ok|error|fault|throttle&annotation=key[=value]&min_ms=&max_ms=&limit=
//	           &version=&route=   a segment of service with that version and route
//	           &seg_service=&seg_route=&seg_status=ok|error|fault|throttle&seg_min_ms=&seg_since=&seg_until=
//	                      one segment the overview counts (completed, not an independent subsegment)
//	                      passing all that are given: of that service, with that own route annotation
//	                      ("" none), that own marker, at least that own duration, starting in
//	                      [seg_since, seg_until): what each overview figure links to
//	           &service_route=    the older form of seg_route, for a segment of service
//	/api/compare?service=&baseline=&candidate=&baseline_since=&baseline_until=
//	           &candidate_since=&candidate_until=&min_requests=&alpha=
//	/api/deployments?service=   deployment markers: first and last seen per version
//	/api/traces/{id}      one trace as a tree of segments and subsegments (orphan: parent never received)
//	/api/traces/{id}/logs its OTLP log records in time order (the first MaxLogsShown; total counts all);
//	                      id in X-Ray or W3C form; a trace with no records has an empty list
//	/api/traces/{id}/version   changes when the trace's documents or log records do (ETag, 304 on
//	                      If-None-Match), with its documents, records, in_progress and idle_seconds
//	/api/logs/unlinked?limit=   the newest log records without a trace ID
//	/api/servicemap       nodes (client, service, function, remote, aws), edges, counts and error rates
//	/api/metrics?namespace=&metric=&bucket=&group=   EMF series in time buckets with percentiles;
//	                      group=DIMENSION or * sums each document's values once per group
//	/api/facets           services and annotation keys present, for filters
//	/api/stats            counts of stored, rejected and evicted documents
package localview
