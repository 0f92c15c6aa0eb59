package deployversion

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestDetect(t *testing.T) {
	asked := 0
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked++
		switch r.URL.Path {
		case "/v4/x/task":
			w.Write([]byte(`{"Family":"orders","Revision":"17"}`))
		case "/v4/x":
			w.Write([]byte(`{"Image":"registry/orders:1.4.2"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer meta.Close()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	ecs := meta.URL + "/v4/x"
	for _, tc := range []struct {
		name   string
		option string
		getenv func(string) string
		want   Version
		err    bool
		asks   bool // the metadata endpoint is asked
	}{
		{"option first", "v9", env(ResourceAttributesEnv, "service.version=2", ECSMetadataEnv, ecs), Version{"v9", SourceOption}, false, false},
		{"otel before ecs", "", env(ResourceAttributesEnv, "service.version=2", ECSMetadataEnv, ecs), Version{"2", SourceOTel}, false, false},
		{"lambda before ecs", "", env(LambdaVersionEnv, "7", ECSMetadataEnv, ecs), Version{"7", SourceLambdaVersion}, false, false},
		{"ecs", "", env(ECSMetadataEnv, ecs), Version{"orders:17", SourceECSTaskDefinition}, false, true},
		{"bad otel falls through", "", env(ResourceAttributesEnv, "service.version=%", ECSMetadataEnv, ecs), Version{"orders:17", SourceECSTaskDefinition}, true, true},
		{"otel without version", "", env(ResourceAttributesEnv, "service.name=a", LambdaVersionEnv, "$LATEST"), Version{"$LATEST", SourceLambdaVersion}, false, false},
		{"ecs down", "", env(ECSMetadataEnv, meta.URL+"/v4/none"), Version{}, true, true},
		{"nothing", "", env(), Version{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked = 0
			v, err := Detect(context.Background(), tc.option, tc.getenv, meta.Client())
			if v != tc.want || (err != nil) != tc.err || (asked > 0) != tc.asks {
				t.Fatalf("got %+v, %v (metadata asked %d times); want %+v, error %v, asked %v", v, err, asked, tc.want, tc.err, tc.asks)
			}
		})
	}
}
