package otlp

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
)

// FuzzExportSegment builds segments from fuzzed fields: the exporter must
// not panic, its output must decode with the OTLP types, and it must say
// what the X-Ray → OTLP rules say of the same segment's document.
func FuzzExportSegment(f *testing.F) {
	f.Add("checkout", "route", "GET /x", 1.5, "", "k", []byte(`{"a":[1,"b",null]}`), 200, "", uint8(0), int64(1_700_000_000_000_000))
	f.Add("S3", "tenant.id", "\xff", math.NaN(), "debug", "otel.resource.x", []byte(`"<&>"`), 503, "aws", uint8(7), int64(1))
	f.Add("", "", "", 0.0, "default", "aws.xray.metadata.zz", []byte(`1e400`), 429, "remote", uint8(255), int64(-5))
	f.Add("n\u2028", "a b", "x", 1e300, "zz", "url.full", []byte(`{"\ud800":"\u00e9","k":{"k":[[[]]]}}`), -1, "remote", uint8(2), int64(1<<60))
	f.Fuzz(func(t *testing.T, name, annKey, annStr string, num float64, mdNS, mdKey string, mdJSON []byte, status int, ns string, bits uint8, startUs int64) {
		seg := &xray.Segment{
			Name: name, TraceID: traceID, ID: spanA, Namespace: ns,
			Start: time.UnixMicro(startUs), Error: bits&1 != 0, Fault: bits&2 != 0, Throttle: bits&4 != 0,
			Independent: bits&8 != 0, User: annStr,
			HTTP:        xray.HTTP{Method: annStr, URL: name, ClientIP: mdKey, XForwardedFor: bits&16 != 0, Status: status, ContentLength: int64(status) * 1000},
			Annotations: []xray.Annotation{xray.StringAttr(annKey, annStr), xray.NumberAttr(mdKey, num), xray.BoolAttr(annStr, bits&32 != 0)},
			Metadata:    []xray.Metadata{{Namespace: mdNS, Key: mdKey, JSON: mdJSON}, {Key: annKey, JSON: []byte(`"v"`)}, {Namespace: annStr, Key: name, JSON: []byte(`[true]`)}},
		}
		if bits&64 != 0 {
			seg.ParentID = parent
			seg.End = seg.Start.Add(time.Duration(status) * time.Microsecond)
		}
		if bits&128 != 0 {
			seg.AWS = xray.AWS{Operation: annStr, QueueURL: name, Environment: []byte(`"ec2":{"instance_id":` + string(mustJSON(annStr)) + `}`)}
			seg.Origin = mdNS
			seg.Cause = &xray.Cause{Exceptions: []xray.Exception{{Type: name, Message: annStr, Stack: []xray.StackFrame{{Path: mdKey, Line: status, Label: annKey}}}}}
			seg.Subsegments = []*xray.Segment{{Name: annKey, ID: spanB, Namespace: mdNS, Start: seg.Start, End: seg.End,
				Metadata: []xray.Metadata{{Key: "otel.resource." + mdKey, JSON: mdJSON}}}}
		}
		compareWithRules(t, seg)
	})
}

func mustJSON(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// FuzzMetadataJSON checks the JSON reader and writer behind metadata
// values against encoding/json: a value it accepts is one encoding/json
// decodes, and written again it is what json.Marshal writes.
func FuzzMetadataJSON(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[true,null,"x\u003c"],"a":2}`, `1e21`, `-0`, `"\ud83d\ude00\ud800x"`, `[1.5e-7, 100000000000000000000000]`, `"\b\f\u2028<>&\u0000"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var tree jsonTree
		n, err := tree.parse(in)
		var v any
		jerr := json.Unmarshal(in, &v)
		if (err == nil) != (jerr == nil) {
			t.Fatalf("parse error %v, encoding/json error %v", err, jerr)
		}
		if err != nil {
			return
		}
		want, _ := json.Marshal(v)
		if got := tree.appendJSON(nil, n); string(got) != string(want) {
			t.Fatalf("wrote %s, json.Marshal writes %s", got, want)
		}
	})
}

// FuzzBatchProcessorEnvironment: any OTEL_BSP_* values give a usable
// configuration (positive batch size and timeout, a batch no larger than
// a span bound) or an error naming the variable, never a panic.
func FuzzBatchProcessorEnvironment(f *testing.F) {
	f.Add("5000", "30000", "2048", "512")
	f.Add("0", "-1", "", "99999999999999999999")
	f.Add(" 7 ", "1e3", "10", "20")
	f.Add("9999999999999", "9223372036854775807", "1", "1")
	f.Fuzz(func(t *testing.T, delay, timeout, queue, batch string) {
		env := map[string]string{
			"OTEL_BSP_SCHEDULE_DELAY": delay, "OTEL_BSP_EXPORT_TIMEOUT": timeout,
			"OTEL_BSP_MAX_QUEUE_SIZE": queue, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": batch,
		}
		c, err := newConfig([]Option{envMap(env)})
		if err != nil {
			if !strings.Contains(err.Error(), "OTEL_BSP_") {
				t.Fatalf("error names no variable: %v", err)
			}
			return
		}
		if c.maxBatch <= 0 || c.batchTimeout <= 0 || c.exportTimeout < 0 || c.queueSize < 0 || (c.queueSize > 0 && c.maxBatch > c.queueSize) {
			t.Fatalf("config %+v from %q", c, env)
		}
	})
}
