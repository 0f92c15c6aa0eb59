package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/app"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/config"
)

// viewLogs is what the local view answers for a trace's log records.
type viewLogs struct {
	Total   int `json:"total"`
	Records []struct {
		Time         float64         `json:"time"`
		Severity     string          `json:"severity"`
		SeverityText string          `json:"severity_text"`
		Body         json.RawMessage `json:"body"`
		Attributes   map[string]any  `json:"attributes"`
		SpanID       string          `json:"span_id"`
		Service      string          `json:"service"`
	} `json:"records"`
}

// TestOTLPLogsOnTheTracePage: an app with the real OpenTelemetry trace
// and log exporters, configured only with OTEL_EXPORTER_OTLP_ENDPOINT (as
// the README says), sends one trace and log records written in its spans;
// local mode takes the records (it refused them before: 400) and the view
// lists them under that trace, in time order, with their span IDs.
// Records sent over OTLP/gRPC and OTLP/HTTP JSON join the same trace.
func TestOTLPLogsOnTheTracePage(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Config: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, a)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+a.Addrs()["otlp_http"])

	texp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithHTTPClient(otlpHTTPClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	sent := sendTrace(t, texp, "cart-local")
	lexp, err := otlploghttp.New(context.Background(), otlploghttp.WithHTTPClient(otlpHTTPClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)),
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "cart-local"))))
	logger := lp.Logger("sidelight/app-test")
	t0 := time.Now()
	emit := func(span trace.SpanContext, at time.Time, sev otellog.Severity, text, body string) {
		var r otellog.Record
		r.SetTimestamp(at)
		r.SetSeverity(sev)
		r.SetSeverityText(text)
		r.SetBody(attribute.StringValue(body))
		r.AddAttributes(attribute.String("cart.id", "42"))
		logger.Emit(trace.ContextWithSpanContext(context.Background(), span), r)
	}
	// Emitted out of time order: the view sorts them.
	emit(sent.client, t0.Add(2*time.Millisecond), otellog.SeverityError, "ERROR", "inventory answered 503")
	emit(sent.server, t0, otellog.SeverityInfo, "INFO", "cart requested")
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatalf("exporting logs to local mode: %v", err)
	}

	// The same trace's records over OTLP/gRPC and OTLP/HTTP JSON.
	tid := sent.server.TraceID()
	conn, err := grpc.NewClient(a.Addrs()["otlp_grpc"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = collogspb.NewLogsServiceClient(conn).Export(context.Background(), &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "cart-grpc"}}}}},
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{TimeUnixNano: uint64(t0.Add(3 * time.Millisecond).UnixNano()),
			SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_WARN, TraceId: tid[:],
			Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "over gRPC"}}}}}},
	}}})
	if err != nil {
		t.Fatalf("OTLP/gRPC logs: %v", err)
	}
	jsonBody := fmt.Sprintf(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"%d","severityNumber":17,"traceId":"%s","body":{"stringValue":"over JSON"}}]}]}]}`,
		t0.Add(4*time.Millisecond).UnixNano(), tid)
	resp, err := otlpHTTPClient(t).Post("http://"+a.Addrs()["otlp_http"]+"/v1/logs", "application/json", strings.NewReader(jsonBody))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP/HTTP JSON logs: %d", resp.StatusCode)
	}

	id := xrayTraceID(tid)
	got := waitLogs(t, a, id, 4)
	r := got.Records
	if string(r[0].Body) != `"cart requested"` || r[0].Severity != "info" || r[0].SeverityText != "INFO" || r[0].SpanID != sent.server.SpanID().String() ||
		r[0].Service != "cart-local" || r[0].Attributes["cart.id"] != "42" {
		t.Errorf("first record %+v", r[0])
	}
	if string(r[1].Body) != `"inventory answered 503"` || r[1].Severity != "error" || r[1].SpanID != sent.client.SpanID().String() {
		t.Errorf("second record %+v", r[1])
	}
	if string(r[2].Body) != `"over gRPC"` || r[2].Service != "cart-grpc" || r[2].Severity != "warn" || string(r[3].Body) != `"over JSON"` {
		t.Errorf("gRPC and JSON records %+v %+v", r[2], r[3])
	}
	// The trace itself is there for the page's waterfall.
	resp, err = otlpHTTPClient(t).Get(a.Addrs()["ui"] + "api/traces/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("trace %s: %d", id, resp.StatusCode)
	}
	if c := a.Counters().Snapshot(); c["otlp.accepted.log_records"] != 4 {
		t.Errorf("counters %v", c)
	}
}

// waitLogs polls the view until trace id has n log records.
func waitLogs(t *testing.T, a *app.App, id string, n int) viewLogs {
	t.Helper()
	client := otlpHTTPClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		var got viewLogs
		resp, err := client.Get(a.Addrs()["ui"] + "api/traces/" + id + "/logs")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("%d %s: %v", resp.StatusCode, buf.Bytes(), err)
		}
		if got.Total >= n {
			if got.Total != n {
				t.Fatalf("%d records, want %d: %s", got.Total, n, buf.Bytes())
			}
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("trace %s has %d log records in the view, want %d; counters %v", id, got.Total, n, a.Counters().Snapshot())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestLocalModeRefusesExporterFlags: local mode sends nothing on, so an
// exporter setting it would ignore stops it at start with an error naming
// the setting; the defaults start.
func TestLocalModeRefusesExporterFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*config.Config)
		want string
	}{
		{"traces otlp", func(c *config.Config) {
			c.TracesExporter, c.TracesEndpoint = config.ExporterOTLP, "http://collector:4318/v1/traces"
		}, "-traces-exporter otlp, -traces-endpoint"},
		{"traces xray-otlp", func(c *config.Config) { c.TracesExporter = config.ExporterXRayOTLP }, "-traces-exporter xray-otlp"},
		{"traces headers", func(c *config.Config) { c.TracesHeaders = map[string]string{"a": "b"} }, "-traces-headers"},
		{"logs otlp", func(c *config.Config) {
			c.LogsExporter, c.LogsEndpoint = config.ExporterOTLP, "http://collector:4318/v1/logs"
		}, "-logs-exporter otlp, -logs-endpoint"},
		{"logs-otlp", func(c *config.Config) { c.LogsExporter = config.ExporterLogsOTLP }, "-logs-exporter logs-otlp"},
		{"logs headers", func(c *config.Config) { c.LogsHeaders = map[string]string{"a": "b"} }, "-logs-headers"},
		{"log group", func(c *config.Config) { c.OTLPLogGroup = "/app/otlp" }, "-otlp-log-group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Fallen into local mode (no AWS found): refused, named.
			c := testConfig()
			tc.set(&c)
			a, err := app.New(context.Background(), app.Options{Config: c})
			if err == nil {
				t.Fatalf("local mode started with %s", tc.want)
			}
			if !strings.Contains(err.Error(), "would ignore "+tc.want+" ") || !strings.Contains(err.Error(), "AWS region and credentials") {
				t.Fatalf("error %q does not name %s", err, tc.want)
			}
			if a != nil {
				t.Fatal("an app with the error")
			}
			// Asked for local mode (a task definition run locally): it
			// runs, and a warning names what it ignores.
			c.Local = true
			var logged bytes.Buffer
			a, err = app.New(context.Background(), app.Options{Config: c, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			if err != nil || !a.Local() {
				t.Fatalf("-local with %s: %v", tc.want, err)
			}
			if out := logged.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, tc.want) {
				t.Fatalf("no warning naming %s: %q", tc.want, out)
			}
		})
	}
	a, err := app.New(context.Background(), app.Options{Config: testConfig()})
	if err != nil || !a.Local() {
		t.Fatalf("defaults in local mode: %v", err)
	}
}

// TestLocalModeWarnsOfAWSSettings: the AWS requests' own settings (region,
// EMF to CloudWatch Logs, its group and stream, ECS dimensions) have no
// use in local mode; it starts, in either way of coming to it, and a
// warning names them rather than ignoring them silently.
func TestLocalModeWarnsOfAWSSettings(t *testing.T) {
	for _, asked := range []bool{false, true} {
		c := testConfig()
		c.Local = asked
		c.Region, c.EMFToLogs, c.LogGroup, c.LogStream, c.ECSDims = "eu-west-1", true, "/app/emf", "s", []string{"cluster"}
		var logged bytes.Buffer
		a, err := app.New(context.Background(), app.Options{Config: c, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
		if err != nil || !a.Local() {
			t.Fatalf("local mode (asked %v) with AWS settings: %v", asked, err)
		}
		const want = "-region, -emf-to-logs, -log-group, -log-stream, -ecs-dimensions"
		if out := logged.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, want) {
			t.Fatalf("asked %v: no warning naming %s: %q", asked, want, out)
		}
	}
	var logged bytes.Buffer
	if _, err := app.New(context.Background(), app.Options{Config: testConfig(), Logger: slog.New(slog.NewTextHandler(&logged, nil))}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logged.String(), "level=WARN") {
		t.Fatalf("a warning with the defaults: %q", logged.String())
	}
}

// TestOTLPLogsPersistedAcrossRestart: with -persist, log records sent over
// OTLP are in the file the sidecar writes at shutdown, and the next start
// with the same file shows them on their trace's page again.
func TestOTLPLogsPersistedAcrossRestart(t *testing.T) {
	c := testConfig()
	c.PersistPath = filepath.Join(t.TempDir(), "view.jsonl")
	start := func() *app.App {
		a, err := app.New(context.Background(), app.Options{Config: c})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := start()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+a.Addrs()["otlp_http"])
	lexp, err := otlploghttp.New(context.Background(), otlploghttp.WithHTTPClient(otlpHTTPClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)),
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "cart-local"))))
	span := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0x65, 0x53, 0xf1, 0, 1, 2, 3}, SpanID: trace.SpanID{1, 2, 3}, TraceFlags: trace.FlagsSampled})
	t0 := time.Now()
	for i, text := range []string{"cart requested", "inventory answered 503"} {
		var r otellog.Record
		r.SetTimestamp(t0.Add(time.Duration(i) * time.Millisecond))
		r.SetSeverity(otellog.SeverityInfo + otellog.Severity(8*i))
		r.SetBody(attribute.StringValue(text))
		lp.Logger("sidelight/app-test").Emit(trace.ContextWithSpanContext(context.Background(), span), r)
	}
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := xrayTraceID(span.TraceID())
	waitLogs(t, a, id, 2)
	shutdown(t, a)

	a = start()
	defer shutdown(t, a)
	got := waitLogs(t, a, id, 2)
	if string(got.Records[0].Body) != `"cart requested"` || got.Records[1].Severity != "error" ||
		got.Records[1].SpanID != span.SpanID().String() || got.Records[1].Service != "cart-local" {
		t.Errorf("records after the restart: %+v", got.Records)
	}
}
