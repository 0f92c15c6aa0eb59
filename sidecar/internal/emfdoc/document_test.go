package emfdoc_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
)

// pointsOf is what Parse hands its callback, as cwmetric points.
func pointsOf(p *emfdoc.Parser, doc []byte) (emfdoc.Meta, []cwmetric.Point, emfdoc.Reason) {
	var out []cwmetric.Point
	meta, r := p.Parse(doc, func(pt *emfdoc.Point) {
		c := cwmetric.Point{Namespace: string(pt.Namespace), Name: string(pt.Name), Unit: pt.Unit, Resolution: pt.Resolution,
			TimestampMs: pt.TimestampMs, Values: append([]float64(nil), pt.Values...)}
		for _, d := range pt.Dims {
			c.Dims = append(c.Dims, cwmetric.Dim{Name: string(d.Name), Value: string(d.Value)})
		}
		out = append(out, c)
	})
	return meta, out, r
}

func TestDecode(t *testing.T) {
	const id = "1-5759e988-bd862e3fe1be46a994272793"
	doc := `{"_aws":{"Timestamp":1700000000000,"LogGroupName":"/ecs/a\u0062","LogStreamName":5,"CloudWatchMetrics":[` +
		`{"Namespace":"ns","Dimensions":[["Svc","Op"],[]],"Metrics":[{"Name":"Lat","Unit":"Milliseconds"},{"Name":"N","StorageResolution":1}]}]},` +
		`"Svc":"api","Op":"get","Lat":[1,2],"N":3,"TraceId":"` + strings.ToUpper(id[:2]) + id[2:] + `","xray":["Root=` + id + `;Sampled=1","x"],` +
		`"z":"Root=1-5759e988-bd862e3fe1be46a994272794"}`
	var p emfdoc.Parser
	var d emfdoc.Document
	if r := p.Decode([]byte(doc), &d, true); r != emfdoc.OK {
		t.Fatal(r)
	}
	want := []string{
		"ns/Lat Milliseconds 60 [{Svc api} {Op get}] [1 2] @1700000000000",
		"ns/N None 1 [{Svc api} {Op get}] [3] @1700000000000",
		"ns/Lat Milliseconds 60 [] [1 2] @1700000000000",
		"ns/N None 1 [] [3] @1700000000000",
	}
	var got []string
	for _, pt := range d.Points {
		got = append(got, fmt.Sprintf("%s/%s %s %d %v %v @%d", pt.Namespace, pt.Name, pt.Unit, pt.Resolution, pt.Dims, pt.Values, pt.TimestampMs))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("points\n%q\nwant\n%q", got, want)
	}
	if d.LogGroup != "/ecs/ab" || d.LogStream != "" || d.TimestampMs != 1700000000000 || string(d.Raw) != doc {
		t.Errorf("document %q %q %d", d.LogGroup, d.LogStream, d.TimestampMs)
	}
	// Key order: TraceId, xray, z; the first two are one ID.
	if fmt.Sprint(d.TraceIDs) != "["+id+" 1-5759e988-bd862e3fe1be46a994272794]" {
		t.Errorf("trace IDs %v", d.TraceIDs)
	}
	c := d.Clone()
	if r := p.Decode([]byte(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"o","Dimensions":[["Svc"]],"Metrics":[{"Name":"Lat"}]}]},"Svc":"b","Lat":[9,9]}`), &d, false); r != emfdoc.OK {
		t.Fatal(r)
	}
	if c.Points[0].Values[0] != 1 || c.Points[0].Dims[0].Value != "api" || string(c.Raw) != doc || len(d.TraceIDs) != 0 {
		t.Errorf("the clone changed with the next decode: %+v", c.Points[0])
	}
	if r := p.Decode([]byte(`{"m":1}`), &d, true); r != emfdoc.NoAWS || d.Raw != nil {
		t.Errorf("refused document: %q, raw %q", r, d.Raw)
	}
}

// TestDecodeAllocations: a document costs one allocation (its strings)
// once the buffers have grown.
func TestDecodeAllocations(t *testing.T) {
	var p emfdoc.Parser
	var d emfdoc.Document
	doc := []byte(base)
	if n := testing.AllocsPerRun(100, func() { p.Decode(doc, &d, true) }); n != 1 {
		t.Errorf("%v allocations per document, want 1", n)
	}
}

// FuzzDecode: Decode refuses what Parse refuses, for the same reason, and
// otherwise gives the points Parse gives, and a Clone equal to them.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(base), true)
	f.Add([]byte(`{"_aws":{"Timestamp":1,"LogGroupName":"g","CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["d","e"],["e"]],"Metrics":[{"Name":"m"}]}]},"d":"x","e":"y","m":1,"d":"z","t":"Root=1-5759e988-bd862e3fe1be46a994272793"}`), true)
	f.Add(expandingDatagram(200), false)
	var p, q emfdoc.Parser
	var d emfdoc.Document
	f.Fuzz(func(t *testing.T, doc []byte, ids bool) {
		meta, want, r := pointsOf(&q, doc)
		if got := p.Decode(doc, &d, ids); got != r {
			t.Fatalf("Decode %q, Parse %q", got, r)
		}
		if r != emfdoc.OK {
			return
		}
		if d.TimestampMs != meta.TimestampMs || len(d.Points) != len(want) || len(d.TraceIDs) > emfdoc.MaxTraceIDs || (!ids && len(d.TraceIDs) > 0) {
			t.Fatalf("document %+v, want %d points at %d", d, len(want), meta.TimestampMs)
		}
		c := d.Clone()
		for i := range want {
			if len(want[i].Dims) == 0 {
				want[i].Dims = d.Points[i].Dims[:0:0]
			}
			if !reflect.DeepEqual(d.Points[i], want[i]) && fmt.Sprint(d.Points[i]) != fmt.Sprint(want[i]) { // NaN-free: JSON numbers
				t.Fatalf("point %d: %+v, want %+v", i, d.Points[i], want[i])
			}
			if fmt.Sprint(c.Points[i]) != fmt.Sprint(d.Points[i]) {
				t.Fatalf("clone %d: %+v, want %+v", i, c.Points[i], d.Points[i])
			}
		}
	})
}
