package emfdoc_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
)

func points(t testing.TB, doc string) ([]string, emfdoc.Reason) {
	var p emfdoc.Parser
	var out []string
	_, r := p.Parse([]byte(doc), func(pt *emfdoc.Point) {
		var dims []string
		for _, d := range pt.Dims {
			dims = append(dims, string(d.Name)+"="+string(d.Value))
		}
		out = append(out, fmt.Sprintf("%s/%s %v %s %d %v @%d", pt.Namespace, pt.Name, dims, pt.Unit, pt.Resolution, pt.Values, pt.TimestampMs))
	})
	return out, r
}

func TestReferenceSamples(t *testing.T) {
	for name, want := range map[string][]string{
		"samples/emf-example-1.json": {"lambda-function-metrics/time [functionVersion=$LATEST] Milliseconds 60 [100] @1574109732004"},
		"samples/emf-example-2.json": {"MyApp/ProcessingLatency [Operation=Aggregator] Milliseconds 60 [100] @1574109732004"},
	} {
		doc, err := schematest.ReadReference(name)
		if err != nil {
			t.Fatal(err)
		}
		got, r := points(t, string(doc))
		if r != emfdoc.OK || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %q %q", name, got, r)
		}
	}
	doc, err := schematest.ReadReference("samples/emf-example-3.json")
	if err != nil {
		t.Fatal(err)
	}
	got, r := points(t, string(doc))
	if r != emfdoc.OK || len(got) != 16 { // 8 metrics x 2 dimension sets
		t.Fatalf("example 3: %d points, %q", len(got), r)
	}
	if got[8] != "LambdaInsights/memory_utilization [function_name=cpu-intensive version=Blue] Percent 60 [24] @1605034324256" {
		t.Fatalf("example 3 point: %s", got[8])
	}
}

const base = `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"ns","Dimensions":[["Svc"]],"Metrics":[{"Name":"Lat","Unit":"Milliseconds"}]}]},"Svc":"api","Lat":[1,2,2]}`

func TestSpecTable(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      emfdoc.Reason
	}{
		{"ok", base, emfdoc.OK},
		{"high resolution", strings.Replace(base, `"Unit":"Milliseconds"`, `"Unit":"Milliseconds","StorageResolution":1`, 1), emfdoc.OK},
		{"no dimensions in set", strings.Replace(base, `[["Svc"]]`, `[[]]`, 1), emfdoc.OK},
		{"truncated", base[:40], emfdoc.NotJSON},
		{"array", `[]`, emfdoc.NotObject},
		{"no _aws", `{"a":1}`, emfdoc.NoAWS},
		{"string timestamp", strings.Replace(base, `1700000000000`, `"1"`, 1), emfdoc.BadTimestamp},
		{"fraction timestamp", strings.Replace(base, `1700000000000`, `1.5`, 1), emfdoc.BadTimestamp},
		{"no dimension sets", strings.Replace(base, `[["Svc"]]`, `[]`, 1), emfdoc.BadDirective},
		{"directive not object", strings.Replace(base, `[{"Namespace"`, `[1,{"Namespace"`, 1), emfdoc.BadDirective},
		{"empty namespace", strings.Replace(base, `"ns"`, `""`, 1), emfdoc.BadName},
		{"long namespace", strings.Replace(base, `"ns"`, `"`+strings.Repeat("n", 256)+`"`, 1), emfdoc.BadName},
		{"bad unit", strings.Replace(base, `Milliseconds`, `ms`, 1), emfdoc.BadUnit},
		{"bad resolution", strings.Replace(base, `"Unit":"Milliseconds"`, `"StorageResolution":5`, 1), emfdoc.BadResolution},
		{"missing dimension", strings.Replace(base, `"Svc":"api"`, `"Other":"api"`, 1), emfdoc.MissingDimension},
		{"numeric dimension", strings.Replace(base, `"Svc":"api"`, `"Svc":3`, 1), emfdoc.MissingDimension},
		{"missing metric", strings.Replace(base, `"Lat":[1,2,2]`, `"X":1`, 1), emfdoc.MissingMetric},
		{"string metric", strings.Replace(base, `[1,2,2]`, `"1"`, 1), emfdoc.BadMetricValue},
		{"empty values", strings.Replace(base, `[1,2,2]`, `[]`, 1), emfdoc.BadMetricValue},
		{"101 values", strings.Replace(base, `[1,2,2]`, `[`+strings.Repeat("1,", 100)+`1]`, 1), emfdoc.BadMetricValue},
		{"31 dimensions", strings.Replace(base, `[["Svc"]]`, `[[`+strings.Repeat(`"Svc",`, 30)+`"Svc"]]`, 1), emfdoc.BadDirective},
		{"31 dimension sets", strings.Replace(base, `[["Svc"]]`, `[`+strings.Repeat(`["Svc"],`, 30)+`["Svc"]]`, 1), emfdoc.TooManyDimensionSets},
		{"30 dimension sets", strings.Replace(base, `[["Svc"]]`, `[`+strings.Repeat(`["Svc"],`, 29)+`["Svc"]]`, 1), emfdoc.OK},
		{"namespace starting with a colon", strings.Replace(base, `"ns"`, `":ns"`, 1), emfdoc.BadName},
		{"non-ASCII namespace", strings.Replace(base, `"ns"`, `"Jos\u00e9"`, 1), emfdoc.BadName},
		{"escaped root key", strings.Replace(base, `"Svc":"api"`, `"S\u0076c":"api"`, 1), emfdoc.OK},
		{"later duplicate root member wins", strings.Replace(base, `"Svc":"api"`, `"Svc":3,"Svc":"api"`, 1), emfdoc.OK},
		{"too large", `{"_aws":{},"x":"` + strings.Repeat("x", emfdoc.MaxDocumentBytes) + `"}`, emfdoc.TooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, r := points(t, tc.doc)
			if r != tc.want {
				t.Fatalf("reason %q, want %q", r, tc.want)
			}
			if r != emfdoc.OK && got != nil {
				t.Fatal("points emitted for a refused document")
			}
			if r == emfdoc.OK {
				if err := schematest.EMF([]byte(tc.doc)); err != nil {
					t.Fatalf("accepted but schema says %v", err)
				}
			}
		})
	}
}

func TestTooManyMetrics(t *testing.T) {
	var defs, vals []string
	for i := range 101 {
		defs = append(defs, fmt.Sprintf(`{"Name":"m%d"}`, i))
		vals = append(vals, fmt.Sprintf(`"m%d":%d`, i, i))
	}
	doc := `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[` + strings.Join(defs, ",") + `]}]},` + strings.Join(vals, ",") + `}`
	if _, r := points(t, doc); r != emfdoc.TooManyMetrics {
		t.Fatalf("101 metrics: %q", r)
	}
}

// FuzzParse: never panics; whatever is accepted passes the schema and
// specification check and stays within MaxPoints and MaxVolume, and the
// callback sees only accepted documents.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(strings.Replace(base, `"Svc":"api"`, `"S\u0076c":"api"`, 1)))
	f.Add([]byte(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":1}`))
	f.Add([]byte(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[],[],[]],"Metrics":[{"Name":"m"},{"Name":"m"}]}]},"m":[1,2]}`))
	f.Add([]byte(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["d","e"],["e"]],"Metrics":[{"Name":"m"}]},{"Namespace":"n","Dimensions":[["d"]],"Metrics":[{"Name":"m"}]}]},"d":"x","e":"y","m":1,"d":"z"}`))
	f.Add(expandingDatagram(2000))
	var p emfdoc.Parser
	f.Fuzz(func(t *testing.T, doc []byte) {
		n, volume := 0, 0
		_, r := p.Parse(doc, func(pt *emfdoc.Point) {
			n++
			if len(pt.Values) == 0 || len(pt.Name) == 0 {
				t.Fatalf("empty point %+v", pt)
			}
			volume += len(pt.Namespace) + len(pt.Name)
			for _, d := range pt.Dims {
				volume += len(d.Name) + len(d.Value)
			}
		})
		if n > emfdoc.MaxPoints || volume > emfdoc.MaxVolume {
			t.Fatalf("%d points carrying %d bytes", n, volume)
		}
		if r != emfdoc.OK {
			if n != 0 {
				t.Fatal("points emitted for a refused document")
			}
			return
		}
		if err := schematest.EMF(doc); err != nil {
			t.Fatalf("Parse accepted %q; schema check: %v", doc, err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	doc := []byte(base)
	var p emfdoc.Parser
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(doc, func(*emfdoc.Point) {})
	}
}

func ExampleParser() {
	var p emfdoc.Parser
	p.Parse([]byte(base), func(pt *emfdoc.Point) {
		fmt.Printf("%s %s %s=%s %v %s\n", pt.Namespace, pt.Name, pt.Dims[0].Name, pt.Dims[0].Value, pt.Values, pt.Unit)
	})
	// Output: ns Lat Svc=api [1 2 2] Milliseconds
}
