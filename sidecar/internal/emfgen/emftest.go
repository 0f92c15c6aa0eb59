package emfgen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
)

// Totals maps a metric identity ("ns|name|unit|res|dim=v,dim=v" with
// dimensions sorted) to value -> count.
type Totals map[string]map[float64]float64

// Add records count occurrences of v for a metric.
func (t Totals) Add(id string, v, count float64) {
	m, ok := t[id]
	if !ok {
		m = map[float64]float64{}
		t[id] = m
	}
	m[v] += count
}

// Count returns the number of values recorded.
func (t Totals) Count() float64 {
	var n float64
	for _, m := range t {
		for _, c := range m {
			n += c
		}
	}
	return n
}

// ID builds a metric identity.
func ID(ns, name, unit string, res int, dims map[string]string) string {
	var ds []string
	for k, v := range dims {
		ds = append(ds, k+"="+v)
	}
	slices.Sort(ds)
	return fmt.Sprintf("%s|%s|%s|%d|%s", ns, name, unit, res, strings.Join(ds, ","))
}

// Producer generates documents.
type Producer struct {
	Namespace   string
	ServiceName string
	LogGroup    string
	Rand        *rand.Rand
	// TimestampMs of every document (a fixed time keeps buckets
	// predictable). The default is in November 2023: set it to the
	// current time when the documents go through a pipeline that uses the
	// real clock, which drops datapoints older than two weeks.
	TimestampMs int64
	Want        Totals
}

// NewProducer returns a producer with a fixed seed.
func NewProducer(ns string, seed uint64) *Producer {
	return &Producer{Namespace: ns, ServiceName: "checkout", LogGroup: "/ecs/checkout",
		Rand: rand.New(rand.NewPCG(seed, seed+1)), TimestampMs: 1_700_000_000_000, Want: Totals{}}
}

// Doc returns the i-th document: a Latency metric (array of 1-3 integer
// milliseconds), a Requests count, and, on every fifth document, a
// high-resolution QueueDepth; two dimension sets.
func (p *Producer) Doc(i int) []byte {
	op := []string{"GetCart", "PutCart", "Checkout"}[i%3]
	n := 1 + p.Rand.IntN(3)
	lat := make([]string, n)
	base := map[string]string{"LogGroup": p.LogGroup, "ServiceName": p.ServiceName, "ServiceType": "AWS::ECS::Container"}
	withOp := map[string]string{"LogGroup": p.LogGroup, "ServiceName": p.ServiceName, "ServiceType": "AWS::ECS::Container", "Operation": op}
	for j := range lat {
		v := float64(p.Rand.IntN(200))
		lat[j] = fmt.Sprint(v)
		p.Want.Add(ID(p.Namespace, "Latency", "Milliseconds", 60, base), v, 1)
		p.Want.Add(ID(p.Namespace, "Latency", "Milliseconds", 60, withOp), v, 1)
	}
	p.Want.Add(ID(p.Namespace, "Requests", "Count", 60, base), 1, 1)
	p.Want.Add(ID(p.Namespace, "Requests", "Count", 60, withOp), 1, 1)
	metrics := `{"Name":"Latency","Unit":"Milliseconds"},{"Name":"Requests","Unit":"Count"}`
	extra := ""
	if i%5 == 0 {
		q := float64(p.Rand.IntN(10))
		metrics += `,{"Name":"QueueDepth","Unit":"Count","StorageResolution":1}`
		extra = fmt.Sprintf(`,"QueueDepth":%v`, q)
		p.Want.Add(ID(p.Namespace, "QueueDepth", "Count", 1, base), q, 1)
		p.Want.Add(ID(p.Namespace, "QueueDepth", "Count", 1, withOp), q, 1)
	}
	return fmt.Appendf(nil, `{"LogGroup":%q,"ServiceName":%q,"ServiceType":"AWS::ECS::Container","Operation":%q,`+
		`"_aws":{"Timestamp":%d,"CloudWatchMetrics":[{"Dimensions":[["LogGroup","ServiceName","ServiceType"],["LogGroup","ServiceName","ServiceType","Operation"]],`+
		`"Metrics":[%s],"Namespace":%q}],"LogGroupName":%q},"Latency":[%s],"Requests":1%s,"RequestId":"req-%d"}`,
		p.LogGroup, p.ServiceName, op, p.TimestampMs, metrics, p.Namespace, p.LogGroup, strings.Join(lat, ","), extra, i)
}

// Received totals what a fake CloudWatch accepted. Statistic sets cannot
// be split into values; they are returned separately, keyed by identity,
// as [SampleCount, Sum, Min, Max].
func Received(reqs []fakeaws.MetricRequest) (Totals, map[string][4]float64) {
	got := Totals{}
	stats := map[string][4]float64{}
	for _, r := range reqs {
		for _, d := range r.MetricData {
			dims := map[string]string{}
			for _, dim := range d.Dimensions {
				dims[dim.Name] = dim.Value
			}
			res := 60
			if d.StorageResolution != nil {
				res = int(*d.StorageResolution)
			}
			id := ID(r.Namespace, d.MetricName, d.Unit, res, dims)
			if s := d.StatisticValues; s != nil {
				cur := stats[id]
				stats[id] = [4]float64{cur[0] + s.SampleCount, cur[1] + s.Sum, s.Minimum, s.Maximum}
				continue
			}
			for i, v := range d.Values {
				c := 1.0
				if len(d.Counts) > 0 {
					c = d.Counts[i]
				}
				got.Add(id, v, c)
			}
		}
	}
	return got, stats
}

// Diff describes the first differences between want and got, or "".
func Diff(want, got Totals) string {
	var out []string
	for id, wm := range want {
		gm := got[id]
		for v, c := range wm {
			if gm[v] != c {
				out = append(out, fmt.Sprintf("%s value %v: want count %v, got %v", id, v, c, gm[v]))
			}
		}
	}
	for id, gm := range got {
		for v, c := range gm {
			if _, ok := want[id][v]; !ok {
				out = append(out, fmt.Sprintf("%s value %v: unexpected count %v", id, v, c))
			}
		}
	}
	slices.Sort(out)
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("... and %d more", len(out)-5))
	}
	return strings.Join(out, "\n")
}
