package middleware

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/deployversion"
	"github.com/seed-c77c9410/sidelight/internal/redmetric"
)

// ecsMetadata serves a task metadata v4 container answer with the given
// task definition labels and image.
func ecsMetadata(t *testing.T, family, revision, image string) string {
	t.Helper()
	labels := map[string]string{}
	if family != "" {
		labels["com.amazonaws.ecs.task-definition-family"] = family
		labels["com.amazonaws.ecs.task-definition-version"] = revision
	}
	body, _ := json.Marshal(map[string]any{"DockerId": "abc", "Name": "app", "Image": image, "Labels": labels})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/v4/abc"
}

// serviceVersionOf returns the service.version of a segment document.
func serviceVersionOf(t *testing.T, raw []byte) string {
	t.Helper()
	var doc struct {
		Service struct {
			Version string `json:"version"`
		} `json:"service"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Service.Version
}

// versionSets returns, for each EMF document, the Version value of the
// documents that declare the set [Service, Version] ("" for those that
// do not), and checks that such a document carries the other sets too.
func versionSets(t *testing.T, docs []map[string]any) []string {
	t.Helper()
	var out []string
	for _, d := range docs {
		aws, _ := d["_aws"].(map[string]any)
		dirs, _ := aws["CloudWatchMetrics"].([]any)
		found := ""
		for _, dir := range dirs {
			sets, _ := dir.(map[string]any)["Dimensions"].([]any)
			var names []string
			for _, s := range sets {
				b, _ := json.Marshal(s)
				names = append(names, string(b))
			}
			want, _ := json.Marshal(redmetric.VersionSet)
			if slices.Contains(names, string(want)) {
				found, _ = d[redmetric.Version].(string)
				if found == "" {
					t.Fatalf("a document declares %s without a value: %v", want, d)
				}
				if !slices.Contains(names, `["Service"]`) {
					t.Fatalf("the version set replaced the others: %v", names)
				}
			}
		}
		out = append(out, found)
	}
	return out
}

// TestVersionFromEachSource: for each source of the version, HTTP
// segments carry it (service.version and the Version annotation) and,
// when switched on by the option or by SIDELIGHT_METRICS_BY_VERSION, the
// request metrics carry the [Service, Version] set with it.
func TestVersionFromEachSource(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       func(t *testing.T) env
		opts      []Option
		want      string // the version on segments; "" for none
		byVersion bool   // metrics carry the version set
	}{
		{"option wins", func(*testing.T) env {
			return env{"OTEL_RESOURCE_ATTRIBUTES": "service.version=2", redmetric.VersionEnv: "true"}
		}, []Option{WithServiceVersion("v9")}, "v9", true},
		{"OTEL_RESOURCE_ATTRIBUTES", func(*testing.T) env {
			return env{"OTEL_RESOURCE_ATTRIBUTES": "service.name=orders,service.version=2.1%2Bb7", redmetric.VersionEnv: "1"}
		}, nil, "2.1+b7", true},
		{"Lambda function version", func(*testing.T) env {
			return env{deployversion.LambdaVersionEnv: "7"}
		}, []Option{WithMetricsByVersion(true)}, "7", true},
		{"ECS task definition", func(t *testing.T) env {
			return env{"ECS_CONTAINER_METADATA_URI_V4": ecsMetadata(t, "orders", "17", "repo/orders:1.4.2"), redmetric.VersionEnv: "true"}
		}, nil, "orders:17", true},
		{"ECS image tag", func(t *testing.T) env {
			return env{"ECS_CONTAINER_METADATA_URI_V4": ecsMetadata(t, "", "", "repo/orders:1.4.2"), redmetric.VersionEnv: "true"}
		}, nil, "1.4.2", true},
		{"ECS latest tag is no version", func(t *testing.T) env {
			return env{"ECS_CONTAINER_METADATA_URI_V4": ecsMetadata(t, "", "", "repo/orders:latest"), redmetric.VersionEnv: "true"}
		}, nil, "", false},
		{"non-ASCII version", func(*testing.T) env {
			return env{"OTEL_RESOURCE_ATTRIBUTES": "service.version=v%C3%A9", redmetric.VersionEnv: "true"}
		}, nil, "vé", true},
		{"metrics by version off by default", func(*testing.T) env {
			return env{"OTEL_RESOURCE_ATTRIBUTES": "service.version=3"}
		}, nil, "3", false},
		{"option switches the environment's off", func(*testing.T) env {
			return env{"OTEL_RESOURCE_ATTRIBUTES": "service.version=3", redmetric.VersionEnv: "true"}
		}, []Option{WithMetricsByVersion(false)}, "3", false},
		{"no version", func(*testing.T) env { return env{redmetric.VersionEnv: "true"} }, nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := xraytest.NewRecorder()
			sink := emftest.NewSink()
			opts := append([]Option{tc.env(t).opt(), WithSegmentExporter(rec), WithServiceName("orders"),
				WithSamplingRules(always(t)), WithMetricsSink(sink)}, tc.opts...)
			k, err := New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
				if r.PathValue("id") == "boom" {
					w.WriteHeader(500)
				}
			})
			h := k.HTTP()(mux)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/orders/1", nil))
			// The ECS task metadata is read in the background, starting
			// with the first request; ForceFlush waits for it.
			if err := k.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/orders/boom", nil))
			if err := k.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			segs := rec.Segments()
			if len(segs) != 2 {
				t.Fatalf("%d segments", len(segs))
			}
			last := segs[1]
			if got := serviceVersionOf(t, last.Raw); got != tc.want {
				t.Errorf("service.version %q, want %q\n%s", got, tc.want, last.Raw)
			}
			if got, _ := last.Annotations[VersionAnnotation].(string); got != tc.want {
				t.Errorf("annotation %s %q, want %q", VersionAnnotation, got, tc.want)
			}
			docs, err := sink.Decoded()
			if err != nil || len(docs) == 0 {
				t.Fatalf("no metrics: %v", err)
			}
			wantValue := ""
			if tc.byVersion {
				wantValue = strings.Map(func(r rune) rune {
					if r > 0x7e {
						return '_'
					}
					return r
				}, tc.want)
			}
			for i, v := range versionSets(t, docs) {
				if v != wantValue {
					t.Errorf("document %d: Version %q, want %q", i, v, wantValue)
				}
			}
			if st := k.VersionStats(); tc.byVersion != (len(st.Versions) == 1) || st.Retired != 0 {
				t.Errorf("version stats %+v", st)
			}
		})
	}
}

// TestLambdaVersionAndAlias: Lambda subsegments carry the function
// version and the alias the invocation came through (an ARN qualified by
// a version or unqualified names none); the invocation metrics carry
// [Service, Version] when switched on.
func TestLambdaVersionAndAlias(t *testing.T) {
	for _, tc := range []struct {
		name, arn, alias string
		byVersion        string
	}{
		{"alias", "arn:aws:lambda:eu-west-1:123456789012:function:orders:live", "live", "true"},
		{"version qualifier", "arn:aws:lambda:eu-west-1:123456789012:function:orders:7", "", "true"},
		{"unqualified, metrics by version off", "arn:aws:lambda:eu-west-1:123456789012:function:orders", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := xraytest.NewRecorder()
			sink := emftest.NewSink()
			k, err := New(env{"AWS_LAMBDA_FUNCTION_NAME": "orders", deployversion.LambdaVersionEnv: "7", redmetric.VersionEnv: tc.byVersion}.opt(),
				WithSegmentExporter(rec), WithMetricsSink(sink))
			if err != nil {
				t.Fatal(err)
			}
			h := Lambda(func(context.Context, string) (string, error) { return "ok", nil }, WithKit(k))
			for i := range 2 {
				ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
					AwsRequestID: fmt.Sprint("r", i), InvokedFunctionArn: tc.arn})
				ctx = context.WithValue(ctx, "x-amzn-trace-id", eventHeader) //nolint:staticcheck // aws-lambda-go's key
				if _, err := h(ctx, "x"); err != nil {
					t.Fatal(err)
				}
			}
			if err := k.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			segs := rec.Segments()
			if len(segs) != 2 {
				t.Fatalf("%d segments", len(segs))
			}
			for _, s := range segs {
				if v, _ := s.Annotations[VersionAnnotation].(string); v != "7" {
					t.Errorf("annotation %s %q, want 7", VersionAnnotation, v)
				}
				if a, _ := s.Annotations[AliasAnnotation].(string); a != tc.alias {
					t.Errorf("annotation %s %q, want %q", AliasAnnotation, a, tc.alias)
				}
			}
			docs, err := sink.Decoded()
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, d := range docs {
				if d[MetricErrors] == nil {
					continue // the ColdStart document
				}
				n++
				want := ""
				if tc.byVersion != "" {
					want = "7"
				}
				if got := versionSets(t, []map[string]any{d})[0]; got != want {
					t.Errorf("invocation document: Version %q, want %q: %v", got, want, d)
				}
				if d[redmetric.LambdaService] != "orders" {
					t.Errorf("service dimension %v", d[redmetric.LambdaService])
				}
			}
			if n != 2 {
				t.Fatalf("%d invocation documents", n)
			}
		})
	}
}

// TestMetricsByVersionAreBounded: a kit writes series for at most
// redmetric.DefaultMaxVersions versions; each new version beyond retires
// the least recently seen, counted in VersionStats.
func TestMetricsByVersionAreBounded(t *testing.T) {
	sink := emftest.NewSink()
	k, err := New(env{}.opt(), WithSegmentExporter(nil), WithMetricsSink(sink), WithMetricsByVersion(true))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Shutdown(context.Background())
	const n = redmetric.DefaultMaxVersions + 2
	for i := range n {
		h := k.HTTP(WithServiceVersion(fmt.Sprint("v", i)))(http.NotFoundHandler())
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		if err := k.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	st := k.VersionStats()
	if want := []string{"v4", "v3", "v2"}; !slices.Equal(st.Versions, want) || st.Retired != n-redmetric.DefaultMaxVersions {
		t.Fatalf("stats %+v; want %v held and %d retired", st, want, n-redmetric.DefaultMaxVersions)
	}
}

// TestVersionSwitchFromEnvironment: SIDELIGHT_METRICS_BY_VERSION takes
// true, 1, false, 0 and empty; anything else is reported and means off.
func TestVersionSwitchFromEnvironment(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "1": true, "TRUE": true, "false": false, "0": false, "": false} {
		c := newConfig([]Option{env{redmetric.VersionEnv: v}.opt()})
		if c.metrics.byVersion != want || len(c.problems) != 0 {
			t.Errorf("%q: on %v, problems %v", v, c.metrics.byVersion, c.problems)
		}
	}
	c := newConfig([]Option{env{redmetric.VersionEnv: "yes"}.opt()})
	if c.metrics.byVersion || len(c.problems) != 1 {
		t.Errorf("yes: on %v, problems %v", c.metrics.byVersion, c.problems)
	}
}

// TestECSVersionReadOnce: the version comes from the one container
// metadata request the environment lookup makes for the segments' origin
// anyway; the task endpoint is never asked.
func TestECSVersionReadOnce(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	body, _ := json.Marshal(map[string]any{"DockerId": "abc", "Image": "repo/orders:9",
		"Labels": map[string]string{"com.amazonaws.ecs.task-definition-family": "orders", "com.amazonaws.ecs.task-definition-version": "4"}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Write(body)
	}))
	defer srv.Close()
	rec := xraytest.NewRecorder()
	k, err := New(env{"ECS_CONTAINER_METADATA_URI_V4": srv.URL + "/v4/abc", redmetric.VersionEnv: "true"}.opt(),
		WithSegmentExporter(rec), WithSamplingRules(always(t)), WithMetricsSink(emftest.NewSink()))
	if err != nil {
		t.Fatal(err)
	}
	h := k.HTTP()(http.NotFoundHandler())
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	if err := k.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(paths, []string{"/v4/abc"}) {
		t.Fatalf("metadata asked for %v; want the container answer once", paths)
	}
	if st := k.VersionStats(); !slices.Equal(st.Versions, []string{"orders:4"}) {
		t.Fatalf("versions %v", st.Versions)
	}
}

// FuzzECSContainerVersion: whatever the container metadata answer holds,
// the version is clean (deployversion's rules) and its dimension value
// printable ASCII.
func FuzzECSContainerVersion(f *testing.F) {
	f.Add([]byte(`{"Image":"r:5000/o:v2@sha256:0","Labels":{"com.amazonaws.ecs.task-definition-family":"o","com.amazonaws.ecs.task-definition-version":"3"}}`))
	f.Add([]byte(`{"Image":"o:latest","Labels":{"com.amazonaws.ecs.task-definition-family":"\u00e9\u0000"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c ecsContainer
		if json.Unmarshal(b, &c) != nil {
			return
		}
		v := c.version()
		if len(v.Value) > deployversion.MaxLen || !utf8.ValidString(v.Value) {
			t.Fatalf("version %q", v.Value)
		}
		d := dimensionValue(v.Value)
		for i := 0; i < len(d); i++ {
			if d[i] < 0x20 || d[i] > 0x7e {
				t.Fatalf("dimension value %q", d)
			}
		}
		if v.Known() && strings.TrimSpace(d) == "" {
			t.Fatalf("blank dimension value for %q", v.Value)
		}
	})
}
