package cwmetric

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

func TestDimensionRules(t *testing.T) {
	for _, tc := range []struct {
		s           string
		name, value bool
	}{
		{"Service", true, true},
		{"a b", true, true},
		{":x", false, true},
		{"", false, false},
		{"   ", false, false},
		{"a\tb", false, false},
		{"José", false, false},
		{"a\x7f", false, false},
		{strings.Repeat("n", 255), true, true},
		{strings.Repeat("n", 256), false, true},
		{strings.Repeat("v", 1024), false, true},
		{strings.Repeat("v", 1025), false, false},
	} {
		if got := ValidDimensionName(tc.s); got != tc.name {
			t.Errorf("ValidDimensionName(%q) = %v", tc.s, got)
		}
		if got := ValidDimensionValue([]byte(tc.s)); got != tc.value {
			t.Errorf("ValidDimensionValue(%q) = %v", tc.s, got)
		}
	}
	if ValidMetricName("") || ValidMetricName(strings.Repeat("m", 256)) || !ValidMetricName("http.server.duration") {
		t.Error("metric name rule")
	}
}

// The unit list is the SDK's StandardUnit enumeration.
func TestUnitsAreStandardUnits(t *testing.T) {
	var sdk []string
	for _, u := range types.StandardUnit("").Values() {
		sdk = append(sdk, string(u))
	}
	for _, u := range Units {
		if !slices.Contains(sdk, u) {
			t.Errorf("%q is not a StandardUnit", u)
		}
	}
	if len(Units) != len(sdk) {
		t.Errorf("%d units, the SDK has %d: %v", len(Units), len(sdk), sdk)
	}
}

func TestSamples(t *testing.T) {
	for _, tc := range []struct {
		p    Point
		want float64
	}{
		{Point{Values: []float64{1, 2}}, 2},
		{Point{Values: []float64{1, 2}, Counts: []float64{3, 4}}, 7},
		{Point{Stats: &Stats{Count: 9}}, 9},
	} {
		if got := tc.p.Samples(); got != tc.want {
			t.Errorf("%+v: %v", tc.p, got)
		}
	}
}
