package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/app"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfgen"
)

// TestEMFParsedOnce: in every mode (metrics to PutMetricData, EMF to
// PutLogEvents, local view) each EMF line is parsed once, by the receiver,
// counted with emf.Parses, and what the receiver refuses is what the
// local view shows as refused, by reason. (Before, the metrics and logs
// pipelines parsed each line a second time, and the local view a third
// time with looser rules of its own, without showing what the receiver
// had refused.)
func TestEMFParsedOnce(t *testing.T) {
	const good = 200
	// Lines the receiver refuses; local mode's own parser took the first.
	bad := []struct {
		line   string
		reason emfdoc.Reason
	}{
		{`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m","Unit":"Furlongs"}]}]},"m":1}`, emfdoc.BadUnit},
		{`not json`, emfdoc.NotJSON},
	}
	for _, mode := range []string{"metrics", "logs", "local"} {
		t.Run(mode, func(t *testing.T) {
			c := testConfig()
			var a *app.App
			switch mode {
			case "local":
				var err error
				if a, err = app.New(context.Background(), app.Options{Config: c}); err != nil {
					t.Fatal(err)
				}
				if err := a.Start(context.Background()); err != nil {
					t.Fatal(err)
				}
			default:
				fake := fakeaws.New()
				defer fake.Close()
				c.EMFToLogs, c.LogStream = mode == "logs", "task-1"
				a = startAWS(t, fake, c, nil)
			}
			prod := emfgen.NewProducer("ns", 7)
			prod.TimestampMs = time.Now().UnixMilli()
			before := emfdoc.Parses()
			tcp, err := net.Dial("tcp", a.Addrs()["emf_tcp"])
			if err != nil {
				t.Fatal(err)
			}
			for i := range good {
				fmt.Fprintf(tcp, "%s\n", prod.Doc(i))
			}
			for _, b := range bad {
				fmt.Fprintf(tcp, "%s\n", b.line)
			}
			tcp.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			waitCounters(t, ctx, a, "EMF lines read", func() bool { return a.Counters().Get("emf.lines") >= good+uint64(len(bad)) })
			if mode == "local" {
				var st struct {
					Received uint64            `json:"metric_docs_received"`
					Rejected uint64            `json:"metric_docs_rejected"`
					Reasons  map[string]uint64 `json:"metric_docs_rejected_reasons"`
				}
				for st.Received < good {
					resp, err := http.Get(a.Addrs()["ui"] + "api/stats")
					if err != nil {
						t.Fatal(err)
					}
					err = json.NewDecoder(resp.Body).Decode(&st)
					resp.Body.Close()
					if err != nil {
						t.Fatal(err)
					}
					select {
					case <-ctx.Done():
						t.Fatalf("local view stats %+v", st)
					case <-time.After(10 * time.Millisecond):
					}
				}
				want := map[string]uint64{}
				for _, b := range bad {
					want[string(b.reason)]++
				}
				if st.Received != good || st.Rejected != uint64(len(bad)) || fmt.Sprint(st.Reasons) != fmt.Sprint(want) {
					t.Errorf("the view shows %+v; want %d received, %v refused", st, good, want)
				}
			}
			shutdown(t, a)
			lines := uint64(good + len(bad))
			if got := emfdoc.Parses() - before; got != lines {
				t.Errorf("%d EMF lines parsed %d times (%.2f per line), want once each", lines, got, float64(got)/float64(lines))
			}
			if n := a.Counters().Get("emf.accepted"); n != good {
				t.Errorf("emf.accepted = %d, want %d", n, good)
			}
		})
	}
}
