package deployversion

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestFromResourceAttributes(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		err            bool
	}{
		{"absent", "", "", false},
		{"only other keys", "service.name=orders,deployment.environment=prod", "", false},
		{"plain", "service.name=orders,service.version=1.4.2", "1.4.2", false},
		{"spaces trimmed", " service.version = 1.4.2 , service.name=orders", "1.4.2", false},
		{"percent-decoded", "service.version=v1%2C2%3Dx%20y", "v1,2=x y", false},
		{"lower-case escapes", "service.version=a%2fb", "a/b", false},
		{"plus stays plus", "service.version=1.0.0+build.7", "1.0.0+build.7", false},
		{"last wins", "service.version=1,service.version=2", "2", false},
		{"empty members skipped", ",,service.version=3,", "3", false},
		{"value with equals kept after first", "service.version=a=b", "a=b", false},
		{"empty value", "service.version=", "", false},
		{"percent-decoded key", "service%2Eversion=7", "7", false},
		{"member without =", "service.version=1,oops", "", true},
		{"empty key", "=1,service.version=2", "", true},
		{"bad escape", "service.version=1%zz", "", true},
		{"truncated escape", "service.version=1%2", "", true},
		{"bad escape in other key discards all", "service.version=1,x=%", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := FromResourceAttributes(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if v.Value != tc.want {
				t.Fatalf("value %q, want %q", v.Value, tc.want)
			}
			if tc.want != "" && v.Source != SourceOTel {
				t.Fatalf("source %v", v.Source)
			}
			if tc.want == "" && v.Known() {
				t.Fatalf("known version %+v from %q", v, tc.in)
			}
		})
	}
}

func TestExplicit(t *testing.T) {
	for in, want := range map[string]string{
		"v2":                           "v2",
		"  v2 \n":                      "v2",
		"":                             "",
		"   ":                          "",
		"a\x00b":                       "a\uFFFDb",
		"a\xffb":                       "a\uFFFDb",
		strings.Repeat("x", 300):       strings.Repeat("x", MaxLen),
		strings.Repeat("é", 200):       strings.Repeat("é", MaxLen/2),
		"x" + strings.Repeat("é", 200): "x" + strings.Repeat("é", (MaxLen-1)/2),
	} {
		v := Explicit(in)
		if v.Value != want {
			t.Errorf("Explicit(%q) = %q, want %q", in, v.Value, want)
		}
		if want != "" && v.Source != SourceOption {
			t.Errorf("Explicit(%q) source %v", in, v.Source)
		}
	}
}

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseECS(t *testing.T) {
	withImage := func(image string) []byte {
		return []byte(strings.Replace(string(readSample(t, "ecs-v4-container-fargate.json")),
			"111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest", image, 1))
	}
	for _, tc := range []struct {
		name            string
		task, container []byte
		want            ECS
		version         Version
		err             bool
	}{
		{"fargate sample", readSample(t, "ecs-v4-task-fargate.json"), readSample(t, "ecs-v4-container-fargate.json"),
			ECS{TaskDefinition: "curltest:3", ImageTag: "latest"}, Version{"curltest:3", SourceECSTaskDefinition}, false},
		{"ec2 sample", readSample(t, "ecs-v4-task-ec2.json"), readSample(t, "ecs-v4-container-ec2.json"),
			ECS{TaskDefinition: "curltest:26", ImageTag: "latest"}, Version{"curltest:26", SourceECSTaskDefinition}, false},
		{"container only, release tag", nil, withImage("111122223333.dkr.ecr.us-west-2.amazonaws.com/orders:1.4.2"),
			ECS{ImageTag: "1.4.2"}, Version{"1.4.2", SourceECSImageTag}, false},
		{"container only, latest", nil, readSample(t, "ecs-v4-container-fargate.json"),
			ECS{ImageTag: "latest"}, Version{}, false},
		{"task without revision", []byte(`{"Family":"orders"}`), withImage("orders:v7"),
			ECS{ImageTag: "v7"}, Version{"v7", SourceECSImageTag}, false},
		{"digest only", nil, withImage("orders@sha256:abcd"), ECS{}, Version{}, false},
		{"bad task", []byte(`[1]`), nil, ECS{}, Version{}, true},
		{"bad container", nil, []byte(`{"Image":7}`), ECS{}, Version{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseECS(tc.task, tc.container)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if e != tc.want {
				t.Fatalf("got %+v, want %+v", e, tc.want)
			}
			if v := e.Version(); v != tc.version {
				t.Fatalf("version %+v, want %+v", v, tc.version)
			}
		})
	}
}

func TestImageTag(t *testing.T) {
	for in, want := range map[string]string{
		"111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest": "latest",
		"orders:1.4.2":                          "1.4.2",
		"registry:5000/orders":                  "",
		"registry:5000/orders:v2":               "v2",
		"registry:5000/orders:v2@sha256:00":     "v2",
		"orders@sha256:00":                      "",
		"public.ecr.aws/team/orders:git-abc123": "git-abc123",
		"":                                      "",
	} {
		if got := ImageTag(in); got != want {
			t.Errorf("ImageTag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFetchECS(t *testing.T) {
	task, container := readSample(t, "ecs-v4-task-fargate.json"), readSample(t, "ecs-v4-container-fargate.json")
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		switch r.URL.Path {
		case "/v4/abc/task":
			w.Write(task)
		case "/v4/abc":
			w.Write(container)
		case "/v4/nocontainer/task":
			w.Write(task)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	e, err := FetchECS(context.Background(), srv.Client(), srv.URL+"/v4/abc/")
	if err != nil || e != (ECS{TaskDefinition: "curltest:3", ImageTag: "latest"}) {
		t.Fatalf("got %+v, %v (paths %v)", e, err, paths)
	}
	// The container answer failing still yields the task definition.
	e, err = FetchECS(context.Background(), srv.Client(), srv.URL+"/v4/nocontainer")
	if err == nil || e.TaskDefinition != "curltest:3" {
		t.Fatalf("container failing: got %+v, %v", e, err)
	}
	if _, err := FetchECS(context.Background(), srv.Client(), srv.URL+"/v4/none"); err == nil {
		t.Fatal("no error when the task answer is 404")
	}
}

func TestAliasFromARN(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:lambda:us-east-1:123456789012:function:orders:live":     "live",
		"arn:aws:lambda:us-east-1:123456789012:function:orders:prod-2_b": "prod-2_b",
		"arn:aws-cn:lambda:cn-north-1:123456789012:function:orders:live": "live",
		"arn:aws:lambda:us-east-1:123456789012:function:orders":          "",
		"arn:aws:lambda:us-east-1:123456789012:function:orders:7":        "",
		"arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST":  "",
		"arn:aws:lambda:us-east-1:123456789012:function:orders:":         "",
		"arn:aws:lambda:us-east-1:123456789012:layer:orders:live":        "",
		"arn:aws:s3:us-east-1:123456789012:function:orders:live":         "",
		"": "",
		"arn:aws:lambda:us-east-1:123456789012:function:orders:live:more": "",
		"arn:aws:lambda:us-east-1:123456789012:function:orders:000 ":      "",
		"arn:aws:lambda:us-east-1:123456789012:function:orders:a b":       "",
	} {
		if got := AliasFromARN(in); got != want {
			t.Errorf("AliasFromARN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromLambda(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == LambdaVersionEnv {
				return v
			}
			return ""
		}
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:orders:live"})
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		getenv  func(string) string
		want    Lambda
		version Version
	}{
		{"version and alias", ctx, env("7"), Lambda{"7", "live"}, Version{"7", SourceLambdaVersion}},
		{"latest, no context", context.Background(), env("$LATEST"), Lambda{FunctionVersion: "$LATEST"}, Version{"$LATEST", SourceLambdaVersion}},
		{"not on Lambda", context.Background(), env(""), Lambda{}, Version{}},
		{"nil getenv", ctx, nil, Lambda{Alias: "live"}, Version{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := FromLambda(tc.ctx, tc.getenv)
			if l != tc.want {
				t.Fatalf("got %+v, want %+v", l, tc.want)
			}
			if v := l.Version(); v != tc.version {
				t.Fatalf("version %+v, want %+v", v, tc.version)
			}
		})
	}
}

func TestResolvePrecedence(t *testing.T) {
	opt := Explicit("opt")
	otel := Version{"otel", SourceOTel}
	lam := Version{"7", SourceLambdaVersion}
	td := Version{"orders:3", SourceECSTaskDefinition}
	tag := Version{"1.4.2", SourceECSImageTag}
	for _, tc := range []struct {
		name string
		in   []Version
		want Version
	}{
		{"none", nil, Version{}},
		{"unknown ignored", []Version{{}, {Value: "x"}}, Version{}},
		{"option beats all, any order", []Version{tag, td, lam, otel, opt}, opt},
		{"otel beats platform", []Version{td, otel, lam}, otel},
		{"lambda beats ecs", []Version{tag, td, lam}, lam},
		{"task definition beats image tag", []Version{tag, td}, td},
		{"image tag alone", []Version{{}, tag}, tag},
		{"first of a source", []Version{{"a", SourceOTel}, {"b", SourceOTel}}, Version{"a", SourceOTel}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Resolve(tc.in...); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	for s := SourceNone; s <= SourceECSImageTag; s++ {
		if s.String() == "" || (s != SourceNone && s.String() == "none") {
			t.Errorf("source %d has no name", s)
		}
	}
}

func FuzzFromResourceAttributes(f *testing.F) {
	for _, s := range []string{"service.version=1", "a=b,service.version=%41%2c", "service.version=%", "=,,", "service.version= x "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := FromResourceAttributes(s)
		if err != nil && v.Known() {
			t.Fatalf("error %v with a version %+v", err, v)
		}
		checkClean(t, v.Value)
		if err == nil && !strings.Contains(s, ServiceVersionKey) && v.Known() {
			t.Fatalf("version %q without %s in %q", v.Value, ServiceVersionKey, s)
		}
	})
}

func FuzzParseECS(f *testing.F) {
	f.Add([]byte(`{"Family":"a","Revision":"1"}`), []byte(`{"Image":"x:y"}`))
	f.Add([]byte(`{"Family":"a"}`), []byte(`{"Image":"r:5000/x@sha256:1"}`))
	f.Fuzz(func(t *testing.T, task, container []byte) {
		e, err := ParseECS(task, container)
		if err != nil && e != (ECS{}) {
			t.Fatalf("error with a result %+v", e)
		}
		checkClean(t, e.Version().Value)
	})
}

func FuzzAliasAndImageTag(f *testing.F) {
	f.Add("arn:aws:lambda:us-east-1:1:function:f:live")
	f.Add("registry:5000/orders:v2@sha256:00")
	f.Fuzz(func(t *testing.T, s string) {
		a := AliasFromARN(s)
		checkClean(t, a)
		if a != "" && (isDigits(a) || strings.Contains(a, ":")) {
			t.Fatalf("alias %q from %q", a, s)
		}
		if tag := ImageTag(s); strings.ContainsAny(tag, "/@:") {
			t.Fatalf("tag %q from %q", tag, s)
		}
	})
}

func checkClean(t *testing.T, v string) {
	t.Helper()
	if len(v) > MaxLen || !utf8.ValidString(v) {
		t.Fatalf("unclean version %q", v)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			t.Fatalf("control character in %q", v)
		}
	}
}

func TestAnnotationKeyIsAValidXRayKey(t *testing.T) {
	// X-Ray annotation keys: letters, digits and underscores only.
	for _, r := range AnnotationKey {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			t.Fatalf("annotation key %q: X-Ray drops keys with %q", AnnotationKey, r)
		}
	}
}

// TestFetchECSHonoursTheContext: an endpoint that never answers ends in
// an error when the context does (without a deadline, the default
// client's DefaultMetadataTimeout would end it).
func TestFetchECSHonoursTheContext(t *testing.T) {
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hold)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := FetchECS(ctx, nil, srv.URL); err == nil {
		t.Fatal("no error from an endpoint that never answers")
	}
}
