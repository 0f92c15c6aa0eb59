package middleware

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// env is a test environment: withGetenv(env{...}.get).
type env map[string]string

func (e env) get(k string) string { return e[k] }

func (e env) opt() Option { return withGetenv(e.get) }

func TestServiceNameFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  env
		opts []Option
		want string
	}{
		{"OTEL_SERVICE_NAME", env{"OTEL_SERVICE_NAME": "orders"}, nil, "orders"},
		{"service.name attribute", env{"OTEL_RESOURCE_ATTRIBUTES": "service.name=billing"}, nil, "billing"},
		{"OTEL_SERVICE_NAME over service.name", env{"OTEL_SERVICE_NAME": "orders", "OTEL_RESOURCE_ATTRIBUTES": "service.name=billing"}, nil, "orders"},
		{"AWS_XRAY_TRACING_NAME first", env{"AWS_XRAY_TRACING_NAME": "xr", "OTEL_SERVICE_NAME": "orders"}, nil, "xr"},
		{"service.name over the function name", env{"AWS_LAMBDA_FUNCTION_NAME": "fn", "OTEL_RESOURCE_ATTRIBUTES": "service.name=billing"}, nil, "billing"},
		{"function name", env{"AWS_LAMBDA_FUNCTION_NAME": "fn"}, nil, "fn"},
		{"option wins", env{"OTEL_SERVICE_NAME": "orders"}, []Option{WithServiceName("mine")}, "mine"},
		{"percent-decoded", env{"OTEL_RESOURCE_ATTRIBUTES": "service.name=my%20shop"}, nil, "my shop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newConfig(append([]Option{tc.env.opt()}, tc.opts...))
			if c.serviceName != tc.want {
				t.Errorf("service name %q, want %q", c.serviceName, tc.want)
			}
		})
	}
}

func TestResourceAttributes(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		{"", nil, ""},
		{"service.version=1.2.3", map[string]string{"service.version": "1.2.3"}, ""},
		{" service.version = 2.0 , deployment.environment=prod ", map[string]string{"service.version": "2.0", "deployment.environment": "prod"}, ""},
		{"service.version=1.2%2C3,team=a%3Db", map[string]string{"service.version": "1.2,3", "team": "a=b"}, ""},
		{"k=v,,", map[string]string{"k": "v"}, ""},
		{"k=1,k=2", map[string]string{"k": "2"}, ""},
		{"k=", map[string]string{"k": ""}, ""},
		// Any error discards the whole variable.
		{"service.name=a,service.version=1%ZZ", nil, "service.version"},
		{"service.name=a,novalue", nil, "not key=value"},
		{"=x", nil, "not key=value"},
		{"k=%", nil, "k"},
		{strings.Repeat("k=v,", maxResourceAttributes+1), nil, "more than"},
	} {
		got, err := parseResourceAttributes(tc.in)
		if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.wantErr)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q: %v, want %v", tc.in, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%q: %s=%q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

func FuzzResourceAttributes(f *testing.F) {
	for _, s := range []string{"service.name=a,service.version=1%2C2", "k=%", "=", ",,", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseResourceAttributes(s)
		if err != nil && m != nil {
			t.Fatalf("%q: error %v with attributes %v", s, err, m)
		}
		if len(m) > maxResourceAttributes {
			t.Fatalf("%q: %d attributes", s, len(m))
		}
	})
}

// The service version reaches the segment, and a bad
// OTEL_RESOURCE_ATTRIBUTES is reported by New and logged.
func TestServiceVersionOnSegments(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     env
		opts    []Option
		want    string
		wantErr bool
	}{
		{"from the environment", env{"OTEL_RESOURCE_ATTRIBUTES": "service.version=1.4.2"}, nil, "1.4.2", false},
		{"option wins", env{"OTEL_RESOURCE_ATTRIBUTES": "service.version=1.4.2"}, []Option{WithServiceVersion("2.0.0")}, "2.0.0", false},
		{"malformed: none", env{"OTEL_RESOURCE_ATTRIBUTES": "service.version=1.4.2,oops"}, nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := xraytest.NewRecorder()
			var log bytes.Buffer
			opts := append([]Option{tc.env.opt(), WithSegmentExporter(rec), WithoutMetrics(), WithSamplingRules(sampling.Default()),
				WithLogger(slog.New(slog.NewTextHandler(&log, nil)))}, tc.opts...)
			k, err := New(opts...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New: %v", err)
			}
			if tc.wantErr && !strings.Contains(log.String(), "OTEL_RESOURCE_ATTRIBUTES") {
				t.Errorf("not logged: %s", log.String())
			}
			defer k.Shutdown(context.Background())
			serveSampled(t, k.HTTP())
			segs := rec.Segments()
			if len(segs) != 1 {
				t.Fatalf("%d segments", len(segs))
			}
			got := ""
			if strings.Contains(string(segs[0].Raw), `"service":{"version":`) {
				got = strings.Split(strings.Split(string(segs[0].Raw), `"service":{"version":"`)[1], `"`)[0]
			}
			if got != tc.want {
				t.Errorf("service version %q, want %q in %s", got, tc.want, segs[0].Raw)
			}
		})
	}
}

func TestTracesExporterFromEnvironment(t *testing.T) {
	rec := xraytest.NewRecorder()
	for _, tc := range []struct {
		name    string
		env     env
		opts    []Option
		want    string // "emitter", "none", "recorder"
		wantErr error
		logged  string
	}{
		{"default is X-Ray", env{}, nil, "emitter", nil, ""},
		{"xray", env{"OTEL_TRACES_EXPORTER": "xray"}, nil, "emitter", nil, ""},
		{"none", env{"OTEL_TRACES_EXPORTER": "none"}, nil, "none", nil, ""},
		{"otlp without the exporter", env{"OTEL_TRACES_EXPORTER": "otlp"}, nil, "none", errNoOTLPExporter, "exporter/otlp"},
		{"otlp with the exporter", env{"OTEL_TRACES_EXPORTER": "otlp"}, []Option{WithSegmentExporter(rec)}, "recorder", nil, ""},
		{"unknown", env{"OTEL_TRACES_EXPORTER": "zipkin"}, nil, "none", nil, "zipkin"},
		{"several", env{"OTEL_TRACES_EXPORTER": "xray,otlp"}, nil, "none", nil, "one exporter at a time"},
		{"bad daemon address", env{"AWS_XRAY_DAEMON_ADDRESS": "tcp:nowhere"}, nil, "none", nil, "no X-Ray emitter"},
		{"SDK disabled", env{"OTEL_SDK_DISABLED": "true"}, nil, "none", nil, ""},
		{"SDK disabled, exporter given", env{"OTEL_SDK_DISABLED": "TRUE"}, []Option{WithSegmentExporter(rec)}, "recorder", nil, ""},
		{"SDK not disabled", env{"OTEL_SDK_DISABLED": "false"}, nil, "emitter", nil, ""},
		{"option turns traces off", env{}, []Option{WithSegmentExporter(nil)}, "none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			k, err := New(append([]Option{tc.env.opt(), WithLogger(slog.New(slog.NewTextHandler(&log, nil)))}, tc.opts...)...)
			defer k.Shutdown(context.Background())
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if (tc.logged != "") != (err != nil) {
				t.Errorf("error %v, want one: %v", err, tc.logged != "")
			}
			if !strings.Contains(log.String(), tc.logged) {
				t.Errorf("log %q does not say %q", log.String(), tc.logged)
			}
			got := "none"
			switch e := k.Exporter().(type) {
			case *xray.Emitter:
				got = "emitter"
			case *xraytest.Recorder:
				got = "recorder"
			case nil:
			default:
				t.Fatalf("exporter %T", e)
			}
			if got != tc.want {
				t.Errorf("exporter %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSamplerFromEnvironment(t *testing.T) {
	low := trace.TraceID{8: 0x00, 15: 1}    // below any ratio above 0
	high := trace.TraceID{8: 0xff, 9: 0xff} // above any ratio below 1
	for _, tc := range []struct {
		name    string
		env     env
		opts    []Option
		in      xray.SamplingDecision
		id      trace.TraceID
		want    bool
		problem bool
	}{
		{"unset: rules, which follow Sampled=1", env{}, []Option{WithSamplingRules(neverRules())}, xray.Sampled, high, true, false},
		{"unset: rules decide a new trace", env{}, []Option{WithSamplingRules(neverRules())}, 0, low, false, false},
		{"always_on ignores Sampled=0", env{"OTEL_TRACES_SAMPLER": "always_on"}, nil, xray.NotSampled, high, true, false},
		{"always_off ignores Sampled=1", env{"OTEL_TRACES_SAMPLER": "always_off"}, nil, xray.Sampled, low, false, false},
		{"parentbased_always_on follows Sampled=0", env{"OTEL_TRACES_SAMPLER": "parentbased_always_on"}, nil, xray.NotSampled, low, false, false},
		{"parentbased_always_on samples roots", env{"OTEL_TRACES_SAMPLER": "parentbased_always_on"}, nil, 0, high, true, false},
		{"parentbased_always_off follows Sampled=1", env{"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, nil, xray.Sampled, high, true, false},
		{"parentbased_always_off drops roots", env{"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, nil, xray.SamplingRequested, low, false, false},
		{"traceidratio low ID", env{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}, nil, 0, low, true, false},
		{"traceidratio high ID", env{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}, nil, xray.Sampled, high, false, false},
		{"parentbased_traceidratio follows", env{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}, nil, xray.Sampled, high, true, false},
		{"parentbased_traceidratio roots", env{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}, nil, 0, low, false, false},
		{"traceidratio bad arg is 1", env{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, nil, 0, high, true, true},
		{"traceidratio no arg is 1", env{"OTEL_TRACES_SAMPLER": "traceidratio"}, nil, 0, high, true, false},
		{"unsupported keeps rules", env{"OTEL_TRACES_SAMPLER": "jaeger_remote"}, []Option{WithSamplingRules(neverRules())}, 0, low, false, true},
		{"xray keeps rules", env{"OTEL_TRACES_SAMPLER": "xray"}, []Option{WithSamplingRules(neverRules())}, 0, low, false, false},
		{"option overrides", env{"OTEL_TRACES_SAMPLER": "always_on"}, []Option{WithSamplingRules(neverRules())}, 0, low, false, false},
		{"upper case", env{"OTEL_TRACES_SAMPLER": "ALWAYS_OFF"}, nil, xray.Sampled, low, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newConfig(append([]Option{tc.env.opt()}, tc.opts...))
			if c.rules == nil {
				c.rules = sampling.Default()
			}
			if got := c.decide(tc.in, tc.id, sampling.Request{}, time.Unix(0, 0)); got != tc.want {
				t.Errorf("decide = %v, want %v", got, tc.want)
			}
			if (len(c.problems) > 0) != tc.problem {
				t.Errorf("problems %v, want some: %v", c.problems, tc.problem)
			}
		})
	}
}

// The ratio test agrees with OpenTelemetry's: a ratio r samples about r of
// random trace IDs.
func TestTraceIDRatioShare(t *testing.T) {
	s, err := parseSampler("traceidratio", "0.3")
	if err != nil {
		t.Fatal(err)
	}
	n, hits := 20000, 0
	for range n {
		if s.root(xray.NewTraceID(time.Now())) {
			hits++
		}
	}
	if share := float64(hits) / float64(n); share < 0.27 || share > 0.33 {
		t.Errorf("share %.3f, want about 0.3", share)
	}
}

func TestSDKDisabledSwitchesMetricsOff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     env
		opts    []Option
		wantOff bool
	}{
		{"enabled", env{}, nil, false},
		{"disabled", env{"OTEL_SDK_DISABLED": "true"}, nil, true},
		{"disabled, sink given", env{"OTEL_SDK_DISABLED": "true"}, []Option{WithMetricsSink(nil)}, false},
		{"not a boolean", env{"OTEL_SDK_DISABLED": "yes"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newConfig(append([]Option{tc.env.opt()}, tc.opts...))
			if c.metrics.off != tc.wantOff {
				t.Errorf("metrics off %v, want %v", c.metrics.off, tc.wantOff)
			}
		})
	}
}

func neverRules() *sampling.Rules {
	r, _ := sampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":0}}`))
	return r
}

func FuzzSampler(f *testing.F) {
	for _, s := range [][2]string{{"traceidratio", "0.5"}, {"parentbased_always_off", ""}, {"always_on", "x"}, {"parentbased_xray", ""}, {"traceidratio", "NaN"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, arg string) {
		s, err := parseSampler(name, arg)
		if err != nil && s.kind == samplerRatio && s.ratio != 1 {
			t.Fatalf("%q %q: error %v but ratio %v", name, arg, err, s.ratio)
		}
		if s.ratio < 0 || s.ratio > 1 {
			t.Fatalf("%q %q: ratio %v", name, arg, s.ratio)
		}
		s.root(xray.NewTraceID(time.Unix(0, 0)))
	})
}

// A kit reports a setting it cannot honour once, when it is made, not again
// for each handler built from it with options of its own.
func TestKitLogsSettingProblemsOnce(t *testing.T) {
	var log bytes.Buffer
	k, err := New(env{"OTEL_SDK_DISABLED": "maybe", "OTEL_TRACES_EXPORTER": "none"}.opt(),
		WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	defer k.Shutdown(context.Background())
	if err == nil {
		t.Fatal("New reported no problem with OTEL_SDK_DISABLED=maybe")
	}
	for i := range 3 {
		k.HTTP(WithServiceName(fmt.Sprintf("svc-%d", i)), WithoutMetrics())
		k.Transport(nil, WithServiceName("client"))
	}
	if n := strings.Count(log.String(), "OTEL_SDK_DISABLED"); n != 1 {
		t.Errorf("OTEL_SDK_DISABLED reported %d times, want once:\n%s", n, log.String())
	}
}
