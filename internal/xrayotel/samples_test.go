package xrayotel

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestDeveloperGuideSamples translates the X-Ray developer guide's segment
// examples and a segment captured from the X-Ray SDK for Go to spans, and
// each span back to a document that must be schema-valid. Examples without
// a trace_id are embedded subsegments as published and must be refused.
func TestDeveloperGuideSamples(t *testing.T) {
	want := map[string]struct {
		spans int
		err   error
	}{
		"xray-example-minimal-segment.json":                  {spans: 1},
		"xray-example-in-progress-segment.json":              {spans: 1},
		"xray-example-inferred-segment.json":                 {spans: 1},
		"xray-example-segment-http-embedded-subsegment.json": {spans: 2},
		"xray-example-cause-exceptions-gosdk.json":           {spans: 18},
		"xray-example-downstream-http-subsegment.json":       {err: ErrTraceID},
		"xray-example-metadata-subsegment-dynamodb.json":     {err: ErrTraceID},
		"xray-example-sql-subsegment.json":                   {err: ErrTraceID},
	}
	files, err := filepath.Glob("testdata/segments/*.json")
	if err != nil || len(files) != len(want) {
		t.Fatalf("found %d sample files (%v), want %d", len(files), err, len(want))
	}
	tr, _ := New(nil)
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			doc, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			w := want[name]
			ss, err := tr.SegmentToSpans(doc)
			if w.err != nil {
				if !errors.Is(err, w.err) {
					t.Fatalf("err = %v, want %v", err, w.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ss.Spans) != w.spans {
				t.Fatalf("%d spans, want %d", len(ss.Spans), w.spans)
			}
			var in map[string]any
			json.Unmarshal(doc, &in)
			for i, s := range ss.Spans {
				out, err := tr.AppendSegment(nil, ss.Resource, s)
				if err != nil {
					t.Fatalf("span %d: %v", i, err)
				}
				if err := validate(out); err != nil {
					t.Fatalf("span %d: %v\n%s", i, err, out)
				}
				if i == 0 {
					var back map[string]any
					json.Unmarshal(out, &back)
					for _, k := range []string{"name", "id", "trace_id", "start_time", "end_time", "in_progress", "fault", "error", "throttle", "http"} {
						a, b := in[k], back[k]
						if x, ok := a.(float64); ok && (k == "start_time" || k == "end_time") {
							// Times keep microseconds; the SDK wrote more digits.
							if y, _ := b.(float64); math.Abs(x-y) > 1e-6 {
								t.Errorf("%s: %v came back as %v", k, a, b)
							}
							continue
						}
						if !jsonEqual(a, b) {
							t.Errorf("%s: %v came back as %v", k, a, b)
						}
					}
				}
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
