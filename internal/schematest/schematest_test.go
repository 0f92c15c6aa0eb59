package schematest

import (
	"strings"
	"testing"
)

// The aws-xray-sdk-go capture uses an annotation key with dots, which the
// published schema forbids (keys are [A-Za-z0-9_]); it must be rejected.
func TestSegmentRejectsDottedAnnotationKey(t *testing.T) {
	doc, err := ReadReference("samples/xray-example-cause-exceptions-gosdk.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := Segment(doc); err == nil || !strings.Contains(err.Error(), "annotations") {
		t.Fatalf("want an annotations error, got %v", err)
	}
}

func TestSegmentAcceptsPublishedExamples(t *testing.T) {
	for _, name := range []string{
		"samples/xray-example-minimal-segment.json",
		"samples/xray-example-segment-http-embedded-subsegment.json",
		"samples/xray-example-in-progress-segment.json",
	} {
		doc, err := ReadReference(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := Segment(doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSegmentRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"no end":        `{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1.0}`,
		"both":          `{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1.0,"end_time":2,"in_progress":true}`,
		"bad name":      `{"name":"a<b>","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1.0,"end_time":2}`,
		"500 no fault":  `{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1.0,"end_time":2,"http":{"response":{"status":500}}}`,
		"sub no parent": `{"name":"a","type":"subsegment","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1.0,"end_time":2}`,
	} {
		if err := Segment([]byte(doc)); err == nil {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
}

func TestEMF(t *testing.T) {
	for _, name := range []string{"samples/emf-example-1.json", "samples/emf-example-2.json", "samples/emf-example-3.json"} {
		doc, err := ReadReference(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := EMF(doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["A"]],"Metrics":[{"Name":"m"}]}]},"m":1}`
	if err := EMF([]byte(bad)); err == nil {
		t.Error("missing dimension at root accepted")
	}
}
