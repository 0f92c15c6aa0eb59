package demo

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

// otlpLogs is an OTLP/HTTP logs endpoint that keeps what it is sent.
type otlpLogs struct {
	mu       sync.Mutex
	requests int
	services map[string][]*logspb.LogRecord
}

func (o *otlpLogs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req collogspb.ExportLogsServiceRequest
	if err == nil && (r.URL.Path != "/v1/logs" || r.Header.Get("Content-Type") != "application/x-protobuf") {
		err = http.ErrNotSupported
	}
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests++
	for _, rl := range req.GetResourceLogs() {
		var service string
		for _, kv := range rl.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, sl := range rl.GetScopeLogs() {
			o.services[service] = append(o.services[service], sl.GetLogRecords()...)
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&collogspb.ExportLogsServiceResponse{})
	w.Write(b)
}

// TestDemoSendsLogsInItsTraces: with an OTLP endpoint, the demo services
// send log records over OTLP/HTTP protobuf, batched, each in the trace
// and span (segment) of the request that wrote it, shop's and
// inventory's under their service names; the declined checkout, a fault,
// has an error record naming its cause; records of the last requests are
// sent before Run returns.
func TestDemoSendsLogsInItsTraces(t *testing.T) {
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	recv := &otlpLogs{services: map[string][]*logspb.LogRecord{}}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	emf := httptest.NewUnstartedServer(nil) // a TCP port that takes EMF and discards it
	emf.Config.Handler = http.NotFoundHandler()
	emf.Start()
	defer emf.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		n, err := Run(ctx, Config{XRayAddr: d.Addr(), EMFEndpoint: "tcp://" + emf.Listener.Addr().String(), OTLPEndpoint: srv.URL, Interval: 5 * time.Millisecond})
		if err != nil {
			t.Error(err)
		}
		done <- n
	}()
	wait, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if _, err := d.WaitFor(wait, 20); err != nil {
		t.Fatal(err)
	}
	cancel()
	n := <-done
	docs, err := d.Documents()
	if err != nil {
		t.Fatal(err)
	}
	// Segments by trace and id, in the W3C form the records carry.
	type key struct{ trace, span string }
	segs := map[key]xraytest.Segment{}
	for _, s := range docs {
		segs[key{strings.ReplaceAll(strings.TrimPrefix(s.TraceID, "1-"), "-", ""), s.ID}] = s
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	total := len(recv.services["shop"]) + len(recv.services["inventory"])
	if len(recv.services["shop"]) == 0 || len(recv.services["inventory"]) == 0 || recv.requests >= total {
		t.Fatalf("%d requests of log records for %d demo requests (not batched?); by service: shop %d, inventory %d",
			recv.requests, n, len(recv.services["shop"]), len(recv.services["inventory"]))
	}
	var matched, declined int
	for service, recs := range recv.services {
		for _, r := range recs {
			if r.GetSeverityText() == "" || r.GetSeverityNumber() == 0 || r.GetTimeUnixNano() == 0 || r.GetBody().GetStringValue() == "" {
				t.Fatalf("%s record without severity, time or body: %v", service, r)
			}
			s, ok := segs[key{hex.EncodeToString(r.GetTraceId()), hex.EncodeToString(r.GetSpanId())}]
			if !ok {
				continue // its segment may still have been in flight when the demo stopped
			}
			matched++
			if s.Name != service {
				t.Errorf("a %s record in a %s segment: %q", service, s.Name, r.GetBody().GetStringValue())
			}
			if strings.Contains(r.GetBody().GetStringValue(), "payment declined") {
				declined++
				if r.GetSeverityNumber() != logspb.SeverityNumber_SEVERITY_NUMBER_ERROR || r.GetSeverityText() != "ERROR" || !s.Fault ||
					s.Cause == nil || !strings.Contains(s.Cause.Exceptions[0].Message, "payment declined") {
					t.Errorf("the declined checkout's record %v in segment %+v", r, s)
				}
			}
		}
	}
	if matched < total/2 || declined == 0 {
		t.Errorf("%d of %d records in a received segment, %d for a declined checkout", matched, total, declined)
	}
}
