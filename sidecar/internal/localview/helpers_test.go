package localview

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// ids hands out deterministic X-Ray IDs.
type ids struct {
	mu sync.Mutex
	n  uint64
}

func (g *ids) id() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	return fmt.Sprintf("%016x", g.n*0x9e3779b97f4a7c15)
}

func (g *ids) traceID(at time.Time) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	return fmt.Sprintf("1-%08x-%024x", at.Unix(), g.n*0x9e3779b97f4a7c15)
}

// doc marshals a segment built as a map and, when t is not nil, checks it
// against the X-Ray schema and rules, so tests feed what AWS would accept.
func doc(t testing.TB, m map[string]any) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := schematest.Segment(b); err != nil {
		t.Fatalf("test document is not a valid segment: %v\n%s", err, b)
	}
	return b
}

func ts(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// scenario is one faulted request through two services: frontend calls
// DynamoDB and the orders service, which fails; a cache lookup arrives as an
// independent subsegment.
type scenario struct {
	traceID                                            string
	frontendID, ddbID, ordersCallID, ordersID, cacheID string
	docs                                               [][]byte // in the order a daemon would see them
}

const scenarioException = "OrderStoreUnavailable: connection refused"

func newScenario(t testing.TB, g *ids, at time.Time) scenario {
	sc := scenario{traceID: g.traceID(at), frontendID: g.id(), ddbID: g.id(), ordersCallID: g.id(), ordersID: g.id(), cacheID: g.id()}
	t0 := at
	ms := func(n int) float64 { return ts(t0.Add(time.Duration(n) * time.Millisecond)) }
	orders := doc(t, map[string]any{
		"name": "orders", "id": sc.ordersID, "trace_id": sc.traceID, "parent_id": sc.ordersCallID,
		"start_time": ms(12), "end_time": ms(40), "fault": true, "origin": "AWS::ECS::Container",
		"http": map[string]any{"request": map[string]any{"method": "POST", "url": "http://orders:8080/orders"},
			"response": map[string]any{"status": 503}},
		"annotations": map[string]any{"route": "POST /orders"},
		"cause": map[string]any{"working_directory": "/app", "exceptions": []any{map[string]any{
			"id": g.id(), "type": "*net.OpError", "message": scenarioException,
			"stack": []any{
				map[string]any{"path": "orders/store.go", "line": 88, "label": "(*Store).Put"},
				map[string]any{"path": "orders/handler.go", "line": 41, "label": "createOrder"},
			}}}},
		"subsegments": []any{map[string]any{"name": "postgres", "id": g.id(), "start_time": ms(14), "end_time": ms(39),
			"fault": true, "namespace": "remote"}},
	})
	cache := doc(t, map[string]any{
		"name": "cache-lookup", "id": sc.cacheID, "trace_id": sc.traceID, "parent_id": sc.frontendID,
		"type": "subsegment", "start_time": ms(2), "end_time": ms(4),
		"metadata": map[string]any{"default": map[string]any{"hit": false}},
	})
	frontend := doc(t, map[string]any{
		"name": "frontend", "id": sc.frontendID, "trace_id": sc.traceID,
		"start_time": ms(0), "end_time": ms(45), "fault": true,
		"http": map[string]any{"request": map[string]any{"method": "POST", "url": "https://shop.example.com/checkout"},
			"response": map[string]any{"status": 502}},
		"annotations": map[string]any{"cors": "allowed", "ColdStart": true},
		"subsegments": []any{
			map[string]any{"name": "DynamoDB", "id": sc.ddbID, "namespace": "aws", "start_time": ms(5), "end_time": ms(10),
				"aws":  map[string]any{"operation": "GetItem", "table_name": "carts", "region": "eu-west-1"},
				"http": map[string]any{"response": map[string]any{"status": 200}}},
			map[string]any{"name": "orders", "id": sc.ordersCallID, "namespace": "remote", "start_time": ms(11), "end_time": ms(41),
				"fault": true, "http": map[string]any{"request": map[string]any{"method": "POST", "url": "http://orders:8080/orders", "traced": true},
					"response": map[string]any{"status": 503}}},
		},
	})
	sc.docs = [][]byte{orders, cache, frontend}
	return sc
}

// okTrace is a single-segment trace that succeeded.
func okTrace(t testing.TB, g *ids, at time.Time, name string, dur time.Duration) (string, []byte) {
	tid := g.traceID(at)
	return tid, doc(t, map[string]any{
		"name": name, "id": g.id(), "trace_id": tid, "start_time": ts(at), "end_time": ts(at.Add(dur)),
		"http": map[string]any{"request": map[string]any{"method": "GET", "url": "http://" + name + "/health"},
			"response": map[string]any{"status": 200}},
	})
}

// fixedClock is a settable clock for tests.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustAdd(t testing.TB, s *Store, docs ...[]byte) {
	t.Helper()
	for _, d := range docs {
		if err := s.AddSegment(d); err != nil {
			t.Fatalf("AddSegment: %v\n%s", err, d)
		}
	}
}

// emfDoc builds an EMF document with one latency and one count metric
// per route, carrying trace IDs.
func emfJSON(t testing.TB, at time.Time, route string, latencies []float64, errors int, traceIDs ...string) []byte {
	m := map[string]any{
		"_aws": map[string]any{"Timestamp": at.UnixMilli(), "CloudWatchMetrics": []any{map[string]any{
			"Namespace": "Sidelight", "Dimensions": []any{[]any{"Service", "Route"}},
			"Metrics": []any{map[string]any{"Name": "Latency", "Unit": "Milliseconds"}, map[string]any{"Name": "Errors", "Unit": "Count"}},
		}}},
		"Service": "frontend", "Route": route, "Latency": latencies, "Errors": errors,
	}
	if len(traceIDs) == 1 {
		m["TraceId"] = traceIDs[0]
	} else if len(traceIDs) > 1 {
		m["TraceIds"] = traceIDs
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := schematest.EMF(b); err != nil {
		t.Fatalf("test document is not valid EMF: %v\n%s", err, b)
	}
	return b
}
