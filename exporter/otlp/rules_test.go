package otlp

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/xrayotel"
)

// encodeForTest encodes seg as the exporter does and decodes the result
// with the generated OTLP types.
func encodeForTest(t testing.TB, seg *xray.Segment, configured ...resourceAttr) (*resourcepb.Resource, []*tracepb.Span, error) {
	res, spans, _, err := encodeBad(t, seg, configured...)
	return res, spans, err
}

// encodeBad is encodeForTest that also says how many metadata values were
// not JSON.
func encodeBad(t testing.TB, seg *xray.Segment, configured ...resourceAttr) (*resourcepb.Resource, []*tracepb.Span, int, error) {
	t.Helper()
	var e encoder
	if err := e.encode(seg, newResourceCache(configured)); err != nil {
		return nil, nil, e.badMD, err
	}
	res := &resourcepb.Resource{}
	if err := proto.Unmarshal(e.res, res); err != nil {
		t.Fatalf("resource does not decode: %v", err)
	}
	ss := &tracepb.ScopeSpans{}
	if err := proto.Unmarshal(e.spans, ss); err != nil {
		t.Fatalf("spans do not decode: %v", err)
	}
	if len(ss.Spans) != e.nspans {
		t.Fatalf("%d spans decoded, encoder counted %d", len(ss.Spans), e.nspans)
	}
	return res, ss.Spans, e.badMD, nil
}

// reference is the shared rule set: the X-Ray document read back by
// internal/xrayotel.
func reference(t testing.TB, seg *xray.Segment) (*xrayotel.SegmentSpans, error) {
	t.Helper()
	tr, err := xrayotel.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr.SegmentToSpans(xray.AppendDocument(nil, seg))
}

// compareWithRules checks that the exporter's spans for seg are the
// spans xrayotel makes of seg's X-Ray document, field by field. The
// differences the package documents (span flags) are cleared first.
func compareWithRules(t testing.TB, seg *xray.Segment) {
	t.Helper()
	want, werr := reference(t, seg)
	res, spans, bad, err := encodeBad(t, seg)
	if werr != nil && err == nil && bad > 0 {
		// Deliberate: a metadata value that is not JSON spoils the whole
		// X-Ray document; the exporter leaves out that value only.
		return
	}
	if werr != nil || err != nil {
		if (werr == nil) != (err == nil) {
			t.Fatalf("rules error %v, exporter error %v", werr, err)
		}
		return
	}
	if !proto.Equal(res, want.Resource) {
		t.Errorf("resource differs\nexporter: %s\nrules:    %s", prototext.Format(res), prototext.Format(want.Resource))
	}
	if len(spans) != len(want.Spans) {
		t.Fatalf("%d spans, rules give %d", len(spans), len(want.Spans))
	}
	for i := range spans {
		if spans[i].Flags&flagSampled == 0 || spans[i].Flags&flagHasIsRemote == 0 && len(spans[i].ParentSpanId) > 0 {
			t.Errorf("span %d: flags %#x", i, spans[i].Flags)
		}
		spans[i].Flags = 0
		if !proto.Equal(spans[i], want.Spans[i]) {
			t.Errorf("span %d differs\nexporter: %s\nrules:    %s", i, prototext.Format(spans[i]), prototext.Format(want.Spans[i]))
		}
	}
}

var (
	t0      = time.Unix(1_700_000_000, 123_456_789)
	traceID = [16]byte{0x65, 0x5b, 0x1e, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	spanA   = [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	spanB   = [8]byte{2, 2, 3, 4, 5, 6, 7, 8}
	spanC   = [8]byte{3, 2, 3, 4, 5, 6, 7, 8}
	parent  = [8]byte{9, 9, 9, 9, 9, 9, 9, 9}
)

// serverSegment is what the middleware records for a request.
func serverSegment() *xray.Segment {
	return &xray.Segment{
		Name: "checkout", TraceID: traceID, ID: spanA, ParentID: parent,
		Start: t0, End: t0.Add(1500 * time.Microsecond),
		HTTP: xray.HTTP{Method: "GET", URL: "https://api.example.com/users/42", UserAgent: "curl/8.0",
			ClientIP: "203.0.113.9", XForwardedFor: true, Status: 200, ContentLength: 11},
		Annotations: []xray.Annotation{xray.StringAttr("route", "GET /users/{id}")},
	}
}

func TestSameRulesAsXRayOTel(t *testing.T) {
	ecsEnv := []byte(`"ecs":{"container":"web","container_id":"abc","task_arn":"arn:aws:ecs:eu-west-1:1:task/x","launch_type":"FARGATE","availability_zone":"eu-west-1a"},"account_id":"123456789012"`)
	long := strings.Repeat("é", 300)
	tests := map[string]func(s *xray.Segment){
		"server request":   func(s *xray.Segment) {},
		"root segment":     func(s *xray.Segment) { s.ParentID = [8]byte{} },
		"direct client ip": func(s *xray.Segment) { s.HTTP.XForwardedFor = false },
		"in progress":      func(s *xray.Segment) { s.End = time.Time{}; s.HTTP.Status = 0 },
		"end before start": func(s *xray.Segment) { s.End = s.Start.Add(-time.Second) },
		"no content length": func(s *xray.Segment) {
			s.HTTP.ContentLength = -1
		},
		"4xx": func(s *xray.Segment) { s.SetHTTPStatus(404) },
		"429": func(s *xray.Segment) { s.SetHTTPStatus(429) },
		"5xx": func(s *xray.Segment) { s.SetHTTPStatus(503) },
		"error without status": func(s *xray.Segment) {
			s.HTTP = xray.HTTP{}
			s.Error = true
		},
		"fault with cause": func(s *xray.Segment) {
			s.SetHTTPStatus(500)
			s.Cause = &xray.Cause{WorkingDirectory: "/app", Exceptions: []xray.Exception{{
				ID: spanC, Type: "*errors.errorString", Message: "boom", Truncated: 2,
				Stack: []xray.StackFrame{{Path: "/app/main.go", Line: 42, Label: "main.handler"}, {Path: "/usr/lib/go/src/net/http/server.go", Line: 2294, Label: "net/http.HandlerFunc.ServeHTTP"}},
			}}}
		},
		"two exceptions": func(s *xray.Segment) {
			s.Fault = true
			s.Cause = &xray.Cause{Exceptions: []xray.Exception{{Message: "first"}, {Type: "T", Remote: true}}}
		},
		"annotations": func(s *xray.Segment) {
			s.Annotations = append(s.Annotations,
				xray.NumberAttr("latency", 1.5), xray.NumberAttr("count", 3), xray.NumberAttr("big", 1e300),
				xray.NumberAttr("nan", math.NaN()), xray.NumberAttr("inf", math.Inf(-1)), xray.NumberAttr("negzero", math.Copysign(0, -1)),
				xray.BoolAttr("cold", true), xray.BoolAttr("warm", false),
				xray.StringAttr("tenant.id", "a"), xray.StringAttr("tenant-id", "b"), // same key once rewritten: last wins
				xray.StringAttr("", "no key"), xray.StringAttr("long", long), xray.StringAttr("bad", "a\xffb\u2028"),
				xray.Annotation{Key: "odd kind", Kind: 9, String: "as string"},
			)
		},
		"metadata": func(s *xray.Segment) {
			s.Metadata = []xray.Metadata{
				{Key: "order", JSON: []byte(`{"id":7,"items":[1,2.5,"x",null,true],"z":null,"a":{"b":"c"},"a":{"d":1}}`)},
				{Key: "plain", JSON: []byte(`"text"`)},
				{Key: "nothing", JSON: []byte(`null`)},
				{Key: "empty"},
				{Namespace: "default", Key: "plain", JSON: []byte(`"later wins"`)},
				{Namespace: "debug", Key: "q", JSON: []byte(`{"html":"<a&b>","n":1e21,"f":0.000001,"g":1e-7,"s":"\u00e9\b\f\t"}`)},
				{Namespace: "debug", Key: "p", JSON: []byte(` [ 1 , 2 ] `)},
				{Namespace: "AWS.SDK", Key: "k", JSON: []byte(`1`)},
			}
		},
		"metadata deep": func(s *xray.Segment) {
			deep := strings.Repeat(`[`, 20) + `1` + strings.Repeat(`]`, 20)
			s.Metadata = []xray.Metadata{{Key: "deep", JSON: []byte(deep)}, {Key: "deepmap", JSON: []byte(strings.Repeat(`{"a":`, 17) + `1` + strings.Repeat(`}`, 17))}}
		},
		"metadata key collisions": func(s *xray.Segment) {
			s.Annotations = append(s.Annotations, xray.StringAttr("tenant", "t1"))
			s.Metadata = []xray.Metadata{
				{Key: "url.full", JSON: []byte(`"shadowed by the http block"`)},
				{Key: "tenant", JSON: []byte(`"shadowed by the annotation"`)},
				{Key: "aws.xray.annotations", JSON: []byte(`"shadowed"`)},
				{Key: "aws.xray.metadata.abc", JSON: []byte(`"shadowed by namespace abc"`)},
				{Key: "aws.xray.metadata.zzz", JSON: []byte(`"shadows namespace zzz"`)},
				{Namespace: "abc", Key: "k", JSON: []byte(`1`)},
				{Namespace: "zzz", Key: "k", JSON: []byte(`2`)},
				{Key: "enduser.id", JSON: []byte(`"no user, so kept"`)},
			}
		},
		"resource metadata": func(s *xray.Segment) {
			s.Metadata = []xray.Metadata{
				{Key: "otel.resource.deployment.environment", JSON: []byte(`"prod"`)},
				{Key: "otel.resource.service.name", JSON: []byte(`"shadowed by the segment name"`)},
				{Key: "otel.resource.nothing", JSON: []byte(`null`)},
			}
		},
		"origin and environment": func(s *xray.Segment) {
			s.Origin = xrayotel.OriginECSFargate
			s.AWS.Environment = ecsEnv
		},
		"segment aws block": func(s *xray.Segment) {
			s.AWS = xray.AWS{Operation: "Invoke", QueueURL: "https://sqs.eu-west-1.amazonaws.com/1/q", Environment: ecsEnv}
		},
		"user and long fields": func(s *xray.Segment) {
			s.User = long
			s.HTTP.URL = "https://x/" + long
			s.HTTP.UserAgent = "ua\xff\xfe"
			s.ResourceARN = "arn:aws:lambda:eu-west-1:1:function:f"
		},
		"service version": func(s *xray.Segment) { s.ServiceVersion = "1.2.3" },
		"odd name":        func(s *xray.Segment) { s.Name = "bad<name>{}" + strings.Repeat("n", 300) },
		"empty name":      func(s *xray.Segment) { s.Name = "" },
		"subsegments": func(s *xray.Segment) {
			ddb := &xray.Segment{Name: "DynamoDB", ID: spanB, Namespace: "aws", Start: t0, End: t0.Add(time.Millisecond),
				AWS: xray.AWS{Operation: "GetItem", Region: "eu-west-1", RequestID: "R1", TableName: "users", Retries: 1}}
			ddb.SetHTTPStatus(400)
			remote := &xray.Segment{Name: "payments.example.com", ID: spanC, Namespace: "remote", Start: t0, End: t0.Add(time.Millisecond),
				HTTP: xray.HTTP{Method: "POST", URL: "https://payments.example.com/charge", Traced: true, Status: 502, ContentLength: -1}, Fault: true}
			local := &xray.Segment{Name: "render", ID: [8]byte{4, 4, 4, 4, 4, 4, 4, 4}, Start: t0, End: t0.Add(time.Millisecond), Error: true,
				Metadata: []xray.Metadata{{Key: "otel.resource.x", JSON: []byte(`1`)}}}
			remote.Subsegments = []*xray.Segment{local}
			s.Subsegments = []*xray.Segment{ddb, remote}
		},
		"independent subsegment": func(s *xray.Segment) {
			s.Independent = true
			s.Namespace = "aws"
			s.Name = "S3"
			s.AWS = xray.AWS{Operation: "PutObject", Region: "us-east-1"}
			s.Origin = "AWS::EC2::Instance" // not written for subsegments
		},
		"sqs consumer": func(s *xray.Segment) {
			s.Namespace = "remote"
			s.Independent = true
			s.AWS = xray.AWS{QueueURL: "https://sqs/q"}
		},
		"aws namespace on segment": func(s *xray.Segment) { s.Namespace = "aws" },
		"far future": func(s *xray.Segment) {
			s.Start = time.Unix(1<<33, 999_999_000)
			s.End = s.Start.Add(time.Second)
		},
		"invalid: zero trace ID":          func(s *xray.Segment) { s.TraceID = [16]byte{} },
		"invalid: zero span ID":           func(s *xray.Segment) { s.ID = [8]byte{} },
		"invalid: independent, no parent": func(s *xray.Segment) { s.Independent = true; s.ParentID = [8]byte{} },
		"invalid: zero start":             func(s *xray.Segment) { s.Start = time.Time{} },
		"invalid: year 3000":              func(s *xray.Segment) { s.Start = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"invalid: subsegment without ID": func(s *xray.Segment) {
			s.Subsegments = []*xray.Segment{{Name: "x", Start: t0}}
		},
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			seg := serverSegment()
			mod(seg)
			compareWithRules(t, seg)
			_, _, err := encodeForTest(t, seg)
			if strings.HasPrefix(name, "invalid") != (err != nil) {
				t.Errorf("error %v", err)
			}
		})
	}
}

func TestDeepSubsegmentsRefused(t *testing.T) {
	seg := serverSegment()
	cur := seg
	for i := 0; i < xrayotel.MaxSubsegmentDepth+1; i++ {
		sub := &xray.Segment{Name: "n", ID: [8]byte{byte(i + 1), 1}, Start: t0, End: t0}
		cur.Subsegments = []*xray.Segment{sub}
		cur = sub
	}
	if _, _, err := encodeForTest(t, seg); !errors.Is(err, errInvalidSegment) {
		t.Fatalf("err = %v", err)
	}
	compareWithRules(t, seg)
	// A cycle (which AppendDocument cannot encode) is refused, not looped.
	cur.Subsegments = []*xray.Segment{seg}
	if _, _, err := encodeForTest(t, seg); !errors.Is(err, errInvalidSegment) {
		t.Fatalf("cycle: err = %v", err)
	}
}

func TestConfiguredResource(t *testing.T) {
	seg := serverSegment()
	res, _, err := encodeForTest(t, seg, resourceAttr{"service.name", "configured"}, resourceAttr{"service.version", "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range res.Attributes {
		got[kv.Key] = kv.Value.GetStringValue()
	}
	if got["service.name"] != "checkout" || got["service.version"] != "1.2.3" || len(got) != 2 {
		t.Fatalf("resource %v: want the segment's name and the configured version", got)
	}
	seg.Independent = true
	res, _, _ = encodeForTest(t, seg, resourceAttr{"service.name", "configured"})
	if len(res.Attributes) != 1 || res.Attributes[0].Value.GetStringValue() != "configured" {
		t.Fatalf("independent subsegment resource %v", res)
	}
}

func TestNamespacesThatReadAlike(t *testing.T) {
	seg := serverSegment()
	seg.Metadata = []xray.Metadata{
		{Namespace: "n\xff", Key: "a", JSON: []byte(`1`)},
		{Namespace: "n\xfe", Key: "b", JSON: []byte(`2`)},
		{Namespace: "n\xff", Key: "c", JSON: []byte(`3`)},
		{Namespace: "m\xff", Key: "k\xff", JSON: []byte(`4`)},
		{Namespace: "m\xff", Key: "k\xfe", JSON: []byte(`5`)},
	}
	compareWithRules(t, seg)
}
