//go:build !sidelightkit

package otlpcompat

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/otlp"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// serveSidelight serves req with the middleware and gives its segment to
// exp.
//
// FOLLOW-UP for the merge of the kit (branch h-kit): the middleware on
// this branch takes only an *xray.Emitter, so the middleware's real
// segment is caught as an X-Ray document on a UDP daemon stand-in,
// rebuilt as an xray.Segment (checked to encode to the same bytes, so
// nothing is lost) and given to exp. kit_on_test.go (-tags sidelightkit)
// gives exp to the middleware directly; after the merge it replaces this
// file.
func serveSidelight(t *testing.T, exp *otlp.Exporter, req *http.Request) {
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	em, err := xray.NewEmitter(xray.WithDaemonAddress(d.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	h := middleware.HTTP(middleware.WithEmitter(em), middleware.WithServiceName("checkout"),
		middleware.WithSamplingRules(rules(t)), middleware.WithoutMetrics())(app())
	h.ServeHTTP(httptest.NewRecorder(), req)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = em.Flush(ctx)
	docs, err := d.WaitFor(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	_ = em.Shutdown(ctx)
	seg := segmentFromDocument(t, &docs[0])
	if got := xray.AppendDocument(nil, seg); !bytes.Equal(got, docs[0].Raw) {
		t.Fatalf("rebuilt segment encodes differently:\n got %s\nwant %s", got, docs[0].Raw)
	}
	exp.ExportSegment(seg)
}

// segmentFromDocument rebuilds the fields an HTTP server segment of the
// middleware holds.
func segmentFromDocument(t *testing.T, d *xraytest.Segment) *xray.Segment {
	t.Helper()
	var err error
	s := &xray.Segment{Name: d.Name, Error: d.Error, Throttle: d.Throttle, Fault: d.Fault, Origin: d.Origin, User: d.User}
	if s.TraceID, err = xray.ParseTraceID(d.TraceID); err != nil {
		t.Fatal(err)
	}
	if s.ID, err = xray.ParseSpanID(d.ID); err != nil {
		t.Fatal(err)
	}
	if d.ParentID != "" {
		if s.ParentID, err = xray.ParseSpanID(d.ParentID); err != nil {
			t.Fatal(err)
		}
	}
	s.Start = secondsToTime(d.StartTime)
	s.End = secondsToTime(d.EndTime)
	req, resp := d.HTTP.Request, d.HTTP.Response
	s.HTTP = xray.HTTP{Method: req.Method, URL: req.URL, UserAgent: req.UserAgent, ClientIP: req.ClientIP,
		XForwardedFor: req.XForwardedFor, Status: resp.Status, ContentLength: -1}
	if resp.ContentLength != nil {
		s.HTTP.ContentLength = *resp.ContentLength
	}
	keys := make([]string, 0, len(d.Annotations))
	for k := range d.Annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := d.Annotations[k].(type) {
		case string:
			s.Annotations = append(s.Annotations, xray.StringAttr(k, v))
		case float64:
			s.Annotations = append(s.Annotations, xray.NumberAttr(k, v))
		case bool:
			s.Annotations = append(s.Annotations, xray.BoolAttr(k, v))
		}
	}
	if len(d.AWS) > 0 || d.Metadata != nil || d.Cause != nil || len(d.Subsegments) > 0 {
		raw, _ := json.Marshal(d)
		t.Fatalf("segment holds more than this test rebuilds: %s", raw)
	}
	return s
}

func secondsToTime(sec float64) time.Time {
	us := int64(sec*1e6 + 0.5)
	return time.UnixMicro(us)
}
