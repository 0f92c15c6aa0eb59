package middleware

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

func TestMain(m *testing.M) {
	if os.Getenv(daemonProcessEnv) == "1" {
		runDaemonProcess() // this binary re-run as BenchmarkLambda's daemon
		return
	}
	goleak.VerifyTestMain(m)
}

// fixture is a daemon stand-in, an emitter sending to it, and a kit that
// the middleware of f.opts is built from, shut down when the test ends.
type fixture struct {
	daemon  *xraytest.Daemon
	emitter *xray.Emitter
	kit     *Kit
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	e, err := xray.NewEmitter(xray.WithDaemonAddress(d.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(WithSegmentExporter(e))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = k.Shutdown(context.Background())
		_ = e.Shutdown(context.Background())
		_ = d.Close()
	})
	return &fixture{daemon: d, emitter: e, kit: k}
}

// always samples every request.
func always(t *testing.T) *sampling.Rules {
	t.Helper()
	r, err := sampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func never(t *testing.T) *sampling.Rules {
	t.Helper()
	r, err := sampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":0}}`))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) opts(t *testing.T, more ...Option) []Option {
	return append([]Option{WithKit(f.kit), WithSegmentExporter(f.emitter), WithServiceName("orders"), WithSamplingRules(always(t)), WithoutMetrics()}, more...)
}

// wait flushes the emitter and returns n documents, each checked against
// the X-Ray schema.
func (f *fixture) wait(t *testing.T, n int) []xraytest.Segment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.emitter.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	docs, err := f.daemon.WaitFor(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if err := schematest.Segment(d.Raw); err != nil {
			t.Fatalf("schema: %v\n%s", err, d.Raw)
		}
	}
	if len(docs) != n {
		t.Fatalf("got %d documents, want %d", len(docs), n)
	}
	return docs
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
