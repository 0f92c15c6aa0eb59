package emfdoc_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
)

// manyRefsLine builds a document of about size bytes that the
// specification allows: half of it root members ("k000000":"v", ...), the
// other half directives of 30 dimension sets of 30 references each to the
// first 30 members, without metrics. A parser that looks every reference
// up by scanning the root members does members*references work.
func manyRefsLine(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[`)
	var dir bytes.Buffer
	dir.WriteString(`{"Namespace":"n","Dimensions":[`)
	for s := range 30 {
		if s > 0 {
			dir.WriteByte(',')
		}
		dir.WriteByte('[')
		for r := range 30 {
			if r > 0 {
				dir.WriteByte(',')
			}
			fmt.Fprintf(&dir, `"k%06d"`, r)
		}
		dir.WriteByte(']')
	}
	dir.WriteString(`],"Metrics":[]}`)
	for n := 0; b.Len() < size/2; n++ {
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(dir.Bytes())
	}
	b.WriteString(`]}`)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `,"k%06d":"v"`, i)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// expandingDatagram builds a document of about size bytes with one
// directive of as many empty dimension sets as fit and 100 metric
// definitions naming one root value: sets*100 points from a few bytes
// each.
func expandingDatagram(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Metrics":[`)
	for i := range 100 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"Name":"m"}`)
	}
	b.WriteString(`],"Dimensions":[[]`)
	for b.Len() < size-20 {
		b.WriteString(`,[]`)
	}
	b.WriteString(`]}]},"m":1}`)
	return b.Bytes()
}

func countPoints(doc []byte) (points int, r emfdoc.Reason) {
	var p emfdoc.Parser
	_, r = p.Parse(doc, func(*emfdoc.Point) { points++ })
	return points, r
}

// BenchmarkParseManyRefs1MB parses the 1 MB line of manyRefsLine.
func BenchmarkParseManyRefs1MB(b *testing.B) {
	doc := manyRefsLine(1_000_000)
	var p emfdoc.Parser
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		p.Parse(doc, func(*emfdoc.Point) {})
	}
}

// BenchmarkParseExpandingDatagram60KB parses the 60 KB datagram of
// expandingDatagram and reports the points it yields.
func BenchmarkParseExpandingDatagram60KB(b *testing.B) {
	doc := expandingDatagram(60_000)
	var p emfdoc.Parser
	points := 0
	for b.Loop() {
		points = 0
		p.Parse(doc, func(*emfdoc.Point) { points++ })
	}
	b.ReportMetric(float64(points), "points/doc")
}

// repeatedValueDoc builds a document whose one metric value is an array
// of 100 numbers of about digits digits each, named by defs metric
// definitions in each of 10 dimension sets. A parser that decodes the
// value at every reference does defs*10*digits*100 work.
func repeatedValueDoc(defs, digits int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]`)
	for range 9 {
		b.WriteString(`,[]`)
	}
	b.WriteString(`],"Metrics":[`)
	for i := range defs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"Name":"m"}`)
	}
	b.WriteString(`]}]},"m":[`)
	num := "1." + strings.Repeat("0", digits)
	for i := range 100 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(num)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// TestParseLinear measures the parser's work (index probes and bytes of
// values decoded, counted by the parser) at n and 4n for the shapes that
// made it quadratic, and the points a small datagram can expand to.
func TestParseLinear(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  func(n int) []byte
		n    int
		want emfdoc.Reason
	}{
		{"many references to many members", manyRefsLine, 50_000, emfdoc.OK},
		{"one long value named by many definitions", func(n int) []byte { return repeatedValueDoc(n/100, n/100) }, 2_000, emfdoc.OK},
		{"empty dimension sets times 100 metrics", expandingDatagram, 15_000, emfdoc.TooManyPoints},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p emfdoc.Parser
			work := func(doc []byte) int {
				if _, r := p.Parse(doc, func(*emfdoc.Point) {}); r != tc.want {
					t.Fatalf("%d bytes: reason %q, want %q", len(doc), r, tc.want)
				}
				return p.Work()
			}
			small, large := tc.doc(tc.n), tc.doc(4*tc.n)
			w1, w4 := work(small), work(large)
			ratio := float64(w4) / float64(w1)
			t.Logf("%d bytes: work %d; %d bytes: work %d (ratio %.2f for %.2fx the bytes)", len(small), w1, len(large), w4, ratio, float64(len(large))/float64(len(small)))
			if w1 == 0 || ratio > 4.5*float64(len(large))/float64(len(small))/4 {
				t.Fatalf("work grows faster than the document: %d then %d", w1, w4)
			}
		})
	}
}

// TestDatagramPointsBounded: a 60 KB datagram of empty dimension sets and
// 100 metric definitions once yielded 1.95 million points; now it is
// refused, and no accepted document yields more than MaxPoints points.
func TestDatagramPointsBounded(t *testing.T) {
	n, r := countPoints(expandingDatagram(60_000))
	if r != emfdoc.TooManyPoints || n != 0 {
		t.Fatalf("60 KB datagram: %d points, reason %q", n, r)
	}
	// 30 sets of 33 metrics: 990 points, accepted; 34 metrics: 1020, refused.
	for _, tc := range []struct {
		metrics int
		want    emfdoc.Reason
	}{{33, emfdoc.OK}, {34, emfdoc.TooManyPoints}} {
		var b bytes.Buffer
		b.WriteString(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]`)
		for range 29 {
			b.WriteString(`,[]`)
		}
		b.WriteString(`],"Metrics":[`)
		for i := range tc.metrics {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"Name":"m%d"}`, i)
		}
		b.WriteString(`]}]}`)
		for i := range tc.metrics {
			fmt.Fprintf(&b, `,"m%d":%d`, i, i)
		}
		b.WriteString(`}`)
		n, r := countPoints(b.Bytes())
		if r != tc.want || (r == emfdoc.OK && n != 30*tc.metrics) || (r != emfdoc.OK && n != 0) {
			t.Fatalf("%d metrics x 30 sets: %d points, reason %q", tc.metrics, n, r)
		}
	}
}

// wideDoc builds a document of 30 dimension sets, each naming the same
// dims root members of valueLen bytes, and metrics metric definitions.
func wideDoc(dims, valueLen, metrics int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[`)
	for s := range 30 {
		if s > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		for d := range dims {
			if d > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"d%d"`, d)
		}
		b.WriteByte(']')
	}
	b.WriteString(`],"Metrics":[`)
	for i := range metrics {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"Name":"m%d"}`, i)
	}
	b.WriteString(`]}]}`)
	for d := range dims {
		fmt.Fprintf(&b, `,"d%d":"%s"`, d, strings.Repeat("v", valueLen))
	}
	for i := range metrics {
		fmt.Fprintf(&b, `,"m%d":%d`, i, i)
	}
	b.WriteString(`}`)
	return b.Bytes()
}

// TestVolumeBounded: 990 points of 30 dimensions of 1 KB would make a
// 31 KB document expand to 30 MB of series keys; it is refused, while 990
// points of 9 dimensions of 100 bytes pass.
func TestVolumeBounded(t *testing.T) {
	big := wideDoc(30, 1000, 33)
	if n, r := countPoints(big); r != emfdoc.TooVoluminous || n != 0 {
		t.Fatalf("%d bytes: %d points, reason %q", len(big), n, r)
	}
	if n, r := countPoints(wideDoc(9, 100, 33)); r != emfdoc.OK || n != 990 {
		t.Fatalf("9 dimensions of 100 bytes: %d points, reason %q", n, r)
	}
}
