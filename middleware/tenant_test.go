package middleware

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// dimensionSets returns the dimension sets an EMF document declares, each
// as its JSON text (["Service","TenantID"]).
func dimensionSets(d map[string]any) []string {
	var out []string
	aws, _ := d["_aws"].(map[string]any)
	dirs, _ := aws["CloudWatchMetrics"].([]any)
	for _, dir := range dirs {
		sets, _ := dir.(map[string]any)["Dimensions"].([]any)
		for _, s := range sets {
			b, _ := json.Marshal(s)
			out = append(out, string(b))
		}
	}
	return out
}

// TestLambdaMetricsByTenant: with WithMetricsByTenant the invocation
// metrics of a tenant-isolated function carry [Service, TenantID] beside
// [Service] (and [Service, Version] when that is on too); invocations
// without a tenant, and all invocations when it is off, carry no tenant
// set; the tenants are bounded, the least recently seen retired and
// counted.
func TestLambdaMetricsByTenant(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []Option
		tenants  []string // one invocation each, in order
		wantSets []string // of the last invocation's document
		wantDim  string   // its TenantID value
		stats    TenantStats
	}{
		{"off", nil, []string{"t1"}, []string{`["Service"]`}, "", TenantStats{}},
		{"on", []Option{WithMetricsByTenant(true, 0)}, []string{"t1"},
			[]string{`["Service"]`, `["Service","TenantID"]`}, "t1", TenantStats{Tenants: []string{"t1"}}},
		{"on, no tenant", []Option{WithMetricsByTenant(true, 0)}, []string{""}, []string{`["Service"]`}, "", TenantStats{}},
		{"on with version", []Option{WithMetricsByTenant(true, 0), WithMetricsByVersion(true), WithServiceVersion("7")}, []string{"t1"},
			[]string{`["Service"]`, `["Service","Version"]`, `["Service","TenantID"]`}, "t1", TenantStats{Tenants: []string{"t1"}}},
		{"bounded", []Option{WithMetricsByTenant(true, 2)}, []string{"a", "b", "a", "c"},
			[]string{`["Service"]`, `["Service","TenantID"]`}, "c", TenantStats{Tenants: []string{"c", "a"}, Retired: 1}},
		{"not printable", []Option{WithMetricsByTenant(true, 0)}, []string{"t\x00é"},
			[]string{`["Service"]`, `["Service","TenantID"]`}, "t__", TenantStats{Tenants: []string{"t__"}}},
		{"switched off again", []Option{WithMetricsByTenant(true, 0), WithMetricsByTenant(false, 0)}, []string{"t1"},
			[]string{`["Service"]`}, "", TenantStats{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLambdaFixture(t)
			h := Lambda(func(ctx context.Context, n int) (int, error) { return n, nil }, f.opts(t, tc.opts...)...)
			for i, tenant := range tc.tenants {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: fmt.Sprint("r", i), TenantID: tenant})
				_, err := h(ctx, i)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
			}
			last := invocationDoc(t, f.emfDocs(t), fmt.Sprint("r", len(tc.tenants)-1))
			if got := dimensionSets(last); !slices.Equal(got, tc.wantSets) {
				t.Errorf("dimension sets %v, want %v", got, tc.wantSets)
			}
			got, _ := last[TenantDimension].(string)
			if got != tc.wantDim {
				t.Errorf("TenantID %q, want %q", got, tc.wantDim)
			}
			st := f.kit.TenantStats()
			if !slices.Equal(st.Tenants, tc.stats.Tenants) || st.Retired != tc.stats.Retired {
				t.Errorf("stats %+v, want %+v", st, tc.stats)
			}
		})
	}
}
