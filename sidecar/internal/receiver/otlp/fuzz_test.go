package otlp

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/queue"
)

// FuzzDecodeHTTP feeds arbitrary bodies through the OTLP/HTTP read and
// decode path, protobuf and JSON, plain and gzip, for each signal, and
// every body through the flat span model's decoder too: no panic, the size limit holds, the budget is returned, and a protobuf
// request that decodes survives a round trip.
func FuzzDecodeHTTP(f *testing.F) {
	f.Add([]byte(traceJSON), uint8(sigTraces), true, false)
	f.Add(mustProto(f, traceProto()), uint8(sigTraces), false, false)
	f.Add(gzipped(mustProto(f, traceProto())), uint8(sigTraces), false, true)
	f.Add(mustProto(f, nestedRequest(40)), uint8(sigTraces), false, false)
	f.Add(nestedJSON(50), uint8(sigTraces), true, false)
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"}]}]}]}`), uint8(sigLogs), true, false)
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"c","gauge":{"dataPoints":[{"asDouble":1,"exemplars":[{"spanId":"0102030405060708"}]}]}}]}]}]}`), uint8(sigMetrics), true, false)
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00}, uint8(sigMetrics), false, false)
	const limit = 64 << 10
	d := newDecoder(DefaultRecursionLimit)
	f.Fuzz(func(t *testing.T, body []byte, sig uint8, isJSON, gz bool) {
		s := signal(sig % 3)
		enc := encProto
		if isJSON {
			enc = encJSON
		}
		budget := queue.NewBudget(4 * limit)
		b, held, pulled, err := readBounded(bytes.NewReader(body), gz, int64(len(body)), limit, budget, nil)
		budget.Release(held)
		// Read into a dirty reused buffer: the same body, or the same error.
		dirty := bytes.Repeat([]byte{0xAA}, len(body)+1)
		b2, held2, _, err2 := readBounded(bytes.NewReader(body), gz, int64(len(body)), limit, budget, dirty)
		budget.Release(held2)
		if (err == nil) != (err2 == nil) || !bytes.Equal(b, b2) {
			t.Fatalf("read into a reused buffer: %q, %v; into a new one: %q, %v", b2, err2, b, err)
		}
		if budget.Used() != 0 {
			t.Fatalf("budget not returned: %d", budget.Used())
		}
		if pulled > limit+1 {
			t.Fatalf("pulled %d bytes past the limit", pulled)
		}
		if err != nil {
			if !errors.Is(err, errTooLarge) && !errors.Is(err, errBadGzip) && !gz {
				t.Fatalf("plain read error %v", err)
			}
			return
		}
		if int64(len(b)) > limit {
			t.Fatalf("body of %d bytes over the limit", len(b))
		}
		var spans otlpspans.Batch // the flat-model path of protobuf traces
		serr := spans.DecodeWithin(b, DefaultRecursionLimit, 4<<20)
		if serr != nil && !errors.Is(serr, otlpspans.ErrMalformed) && !errors.Is(serr, otlpspans.ErrTooLarge) {
			t.Fatalf("otlpspans: unclassified error %v", serr)
		}
		m, err := d.decode(s, enc, b)
		if err != nil {
			return
		}
		if n := countItems(m); s == sigTraces && enc == encProto && serr == nil && int64(len(spans.Spans)) != n {
			t.Fatalf("otlpspans decoded %d spans, protobuf-go %d", len(spans.Spans), n)
		}
		if enc == encProto {
			again, err := proto.Marshal(m)
			if err != nil {
				t.Fatalf("re-marshal: %v", err)
			}
			m2, err := d.decode(s, encProto, again)
			if err != nil || !proto.Equal(m, m2) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
