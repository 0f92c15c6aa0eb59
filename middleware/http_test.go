package middleware

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	xrayprop "go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

func TestHTTPRecordsSegment(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := AddAnnotation(r.Context(), "tenant", "acme"); err != nil {
			t.Error(err)
		}
		if err := AddAnnotation(r.Context(), "items", 3); err != nil {
			t.Error(err)
		}
		if err := AddMetadata(r.Context(), "order", map[string]int{"lines": 2}); err != nil {
			t.Error(err)
		}
		if err := AddAnnotation(r.Context(), "bad", []int{1}); err == nil {
			t.Error("slice annotation accepted")
		}
		io.WriteString(w, "hello")
	})
	srv := httptest.NewServer(HTTP(f.opts(t)...)(mux))
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/users/42?secret=1", nil)
	req.Header.Set("User-Agent", "test-agent")
	req.Header.Set("X-Forwarded-For", "203.0.113.7, 10.0.0.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	seg := f.wait(t, 1)[0]

	if seg.Name != "orders" || seg.ParentID != "" || seg.Type != "" {
		t.Errorf("name %q parent %q type %q", seg.Name, seg.ParentID, seg.Type)
	}
	req2 := seg.HTTP.Request
	if req2.Method != "GET" || req2.URL != "http://"+strings.TrimPrefix(srv.URL, "http://")+"/users/42" || req2.UserAgent != "test-agent" || req2.ClientIP != "203.0.113.7" || !req2.XForwardedFor {
		t.Errorf("request block %+v", req2)
	}
	if seg.HTTP.Response.Status != 200 || seg.HTTP.Response.ContentLength == nil || *seg.HTTP.Response.ContentLength != 5 {
		t.Errorf("response block %+v", seg.HTTP.Response)
	}
	if seg.Error || seg.Fault || seg.Throttle {
		t.Error("flags set on a 200")
	}
	if seg.Annotations["route"] != "GET /users/{id}" || seg.Annotations["tenant"] != "acme" || seg.Annotations["items"] != float64(3) {
		t.Errorf("annotations %v", seg.Annotations)
	}
	if string(seg.Metadata["default"]["order"]) != `{"lines":2}` {
		t.Errorf("metadata %s", pretty(seg.Metadata))
	}
	if got := resp.Header.Get("X-Amzn-Trace-Id"); got != "Root="+seg.TraceID {
		t.Errorf("response header %q, segment trace %s", got, seg.TraceID)
	}
	if seg.EndTime < seg.StartTime {
		t.Error("end before start")
	}
}

func TestHTTPStatusFlags(t *testing.T) {
	f := newFixture(t)
	h := HTTP(f.opts(t)...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := map[string]int{"/404": 404, "/429": 429, "/500": 500, "/502": 502, "/301": 301}[r.URL.Path]
		w.WriteHeader(code)
	}))
	for _, p := range []string{"/404", "/429", "/500", "/502", "/301"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	got := map[int][3]bool{}
	for _, s := range f.wait(t, 5) {
		got[s.HTTP.Response.Status] = [3]bool{s.Error, s.Throttle, s.Fault}
	}
	want := map[int][3]bool{404: {true, false, false}, 429: {true, true, false}, 500: {false, false, true}, 502: {false, false, true}, 301: {}}
	for code, flags := range want {
		if got[code] != flags {
			t.Errorf("status %d: error/throttle/fault = %v, want %v", code, got[code], flags)
		}
	}
}

func TestHTTPPanicIsFaultAndRepanics(t *testing.T) {
	f := newFixture(t)
	h := HTTP(f.opts(t)...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]int
		m["boom"]++ // assignment to entry in nil map
	}))
	func() {
		defer func() {
			if v := recover(); v == nil {
				t.Error("panic was swallowed")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	seg := f.wait(t, 1)[0]
	if !seg.Fault || seg.Cause == nil || len(seg.Cause.Exceptions) == 0 {
		t.Fatalf("no fault/cause: %s", pretty(seg))
	}
	ex := seg.Cause.Exceptions[0]
	if !strings.Contains(ex.Message, "nil map") || ex.Type != "runtime.plainError" && !strings.Contains(ex.Type, "runtime") {
		t.Errorf("exception %+v", ex)
	}
	found := false
	for _, fr := range ex.Stack {
		if strings.Contains(fr.Label, "TestHTTPPanicIsFaultAndRepanics") {
			found = true
		}
	}
	if !found {
		t.Errorf("stack does not reach the handler: %+v", ex.Stack)
	}
}

func TestHTTPIncomingHeader(t *testing.T) {
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	tests := []struct {
		name       string
		header     string
		wantDocs   int
		wantTrace  string // "" means: a new trace
		wantParent string
		wantResp   string // "" means: Root=<trace> only
	}{
		{"continues", "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1", 1, root, "53995c3f42cd8ad8", "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1"},
		{"alb root only", "Root=" + root, 1, root, "", ""},
		{"not sampled", "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=0", 0, root, "", "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=0"},
		{"requested", "Root=" + root + ";Sampled=?", 1, root, "", "Root=" + root + ";Sampled=1"},
		{"malformed", "Root=garbage;Parent=zz", 1, "", "", ""},
		{"empty", "", 1, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var seen string
			h := HTTP(f.opts(t)...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen, _ = TraceID(r.Context())
			}))
			req := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				req.Header.Set("X-Amzn-Trace-Id", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			if tt.wantTrace != "" && seen != tt.wantTrace {
				t.Errorf("handler saw trace %s", seen)
			}
			if tt.wantTrace == "" && (seen == root || len(seen) != 35) {
				t.Errorf("want a new trace, handler saw %q", seen)
			}
			want := tt.wantResp
			if want == "" {
				want = "Root=" + seen
			}
			if got := rec.Header().Get("X-Amzn-Trace-Id"); got != want {
				t.Errorf("response header %q, want %q", got, want)
			}
			if tt.wantDocs == 0 {
				_ = f.emitter.ForceFlush(context.Background())
				if docs, _ := f.daemon.Documents(); len(docs) != 0 {
					t.Fatalf("unsampled request sent %d documents", len(docs))
				}
				return
			}
			seg := f.wait(t, 1)[0]
			if seg.TraceID != seen || seg.ParentID != tt.wantParent {
				t.Errorf("segment trace %s parent %q", seg.TraceID, seg.ParentID)
			}
		})
	}
}

func TestHTTPUnsampledStillPropagates(t *testing.T) {
	f := newFixture(t)
	var outgoing string
	downstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outgoing = r.Header.Get("X-Amzn-Trace-Id")
	}))
	defer downstream.Close()
	client := &http.Client{Transport: Transport(nil, WithSegmentExporter(f.emitter))}
	h := HTTP(f.opts(t, WithSamplingRules(never(t)))...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := AddAnnotation(r.Context(), "k", "v"); err != nil {
			t.Errorf("annotation on unsampled request: %v", err)
		}
		req, _ := http.NewRequestWithContext(r.Context(), "GET", downstream.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	hdr, err := xray.ParseHeader(outgoing)
	if err != nil || hdr.Sampled != xray.NotSampled {
		t.Fatalf("downstream got %q (%v)", outgoing, err)
	}
	if !strings.HasPrefix(rec.Header().Get("X-Amzn-Trace-Id"), "Root="+xray.FormatTraceID(hdr.TraceID)) {
		t.Errorf("response header %q and downstream header %q name different traces", rec.Header().Get("X-Amzn-Trace-Id"), outgoing)
	}
	_ = f.emitter.ForceFlush(context.Background())
	if docs, _ := f.daemon.Documents(); len(docs) != 0 {
		t.Fatalf("unsampled request sent %d documents", len(docs))
	}
}

func TestHTTPKeepsFlusherHijackerAndResponseController(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Errorf("SetWriteDeadline through the wrapper: %v", err)
		}
		for i := 0; i < 3; i++ {
			io.WriteString(w, "data: tick\n\n")
			if err := rc.Flush(); err != nil {
				t.Errorf("ResponseController.Flush: %v", err)
			}
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/upgrade", func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo: " + line)
		rw.Flush()
	})
	srv := httptest.NewServer(HTTP(f.opts(t)...)(mux))
	defer srv.Close()

	// Server-sent events arrive one by one, before the handler returns.
	resp, err := http.Get(srv.URL + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ {
		line, err := br.ReadString('\n')
		if err != nil || line != "data: tick\n" {
			t.Fatalf("event %d: %q %v", i, line, err)
		}
		br.ReadString('\n')
	}
	resp.Body.Close()

	// A hijacked connection speaks its own protocol.
	conn, err := (&netDialer{}).dial(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	cr := bufio.NewReader(conn)
	status, _ := cr.ReadString('\n')
	if !strings.HasPrefix(status, "HTTP/1.1 101") {
		t.Fatalf("status line %q", status)
	}
	for {
		l, _ := cr.ReadString('\n')
		if l == "\r\n" || l == "" {
			break
		}
	}
	io.WriteString(conn, "ping\n")
	if got, _ := cr.ReadString('\n'); got != "echo: ping\n" {
		t.Fatalf("echo %q", got)
	}
	docs := f.wait(t, 2)
	statuses := map[int]bool{}
	for _, d := range docs {
		statuses[d.HTTP.Response.Status] = true
	}
	if !statuses[200] || !statuses[101] {
		t.Errorf("statuses %v, want 200 (SSE) and 101 (hijacked)", statuses)
	}
}

func TestHTTPHostNaming(t *testing.T) {
	f := newFixture(t)
	h := HTTP(f.opts(t, WithHostNaming("*.example.com"))...)(http.NotFoundHandler())
	for _, host := range []string{"api.example.com:8443", "evil.attacker.net"} {
		req := httptest.NewRequest("GET", "/x", nil)
		req.Host = host
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	names := map[string]bool{}
	for _, d := range f.wait(t, 2) {
		names[d.Name] = true
	}
	if !names["api.example.com"] || !names["orders"] || len(names) != 2 {
		t.Errorf("names %v", names)
	}
}

func TestOpenTelemetrySpansBecomeSubsegments(t *testing.T) {
	f := newFixture(t)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(xray.NewSpanProcessor(f.emitter, "cart.size")))
	defer tp.Shutdown(context.Background())
	tracer := tp.Tracer("shop")
	var injected string
	h := HTTP(f.opts(t)...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer.Start(r.Context(), "load cart")
		span.SetAttributes(attrInt("cart.size", 3))
		// The OpenTelemetry X-Ray propagator sees the same trace.
		carrier := propagation.HeaderCarrier(http.Header{})
		xrayprop.Propagator{}.Inject(ctx, carrier)
		injected = carrier.Get("X-Amzn-Trace-Id")
		span.End()
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	docs := f.wait(t, 2)
	var seg, sub xraytest_Segment
	for _, d := range docs {
		if d.Type == "subsegment" {
			sub = d
		} else {
			seg = d
		}
	}
	if sub.Name != "load cart" || sub.TraceID != seg.TraceID || sub.ParentID != seg.ID {
		t.Fatalf("span did not nest: segment %s/%s, subsegment %q trace %s parent %s", seg.TraceID, seg.ID, sub.Name, sub.TraceID, sub.ParentID)
	}
	if sub.Annotations["cart_size"] != float64(3) {
		t.Errorf("indexed attribute: %v", sub.Annotations)
	}
	if !strings.HasPrefix(injected, "Root="+seg.TraceID+";Parent=") {
		t.Errorf("OpenTelemetry X-Ray propagator wrote %q", injected)
	}
}
