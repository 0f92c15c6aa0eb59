package xray

import (
	"encoding/json"
	"math"
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

// Every attribute type becomes the JSON value encoding/json would write.
func TestAppendAttributeValue(t *testing.T) {
	for _, c := range []struct {
		v    attribute.Value
		want any
	}{
		{attribute.BoolValue(true), true},
		{attribute.Int64Value(-3), -3},
		{attribute.Float64Value(1.5), 1.5},
		{attribute.StringValue(`a"b`), `a"b`},
		{attribute.BoolSliceValue([]bool{true, false}), []bool{true, false}},
		{attribute.Int64SliceValue([]int64{1, 2}), []int64{1, 2}},
		{attribute.Float64SliceValue([]float64{0.5, 1e21}), []float64{0.5, 1e21}},
		{attribute.StringSliceValue([]string{"x", "<y>"}), []string{"x", "<y>"}},
		{attribute.StringSliceValue(nil), []string{}},
	} {
		got := appendAttributeValue(nil, c.v)
		var back, want any
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%v: %s is not JSON: %v", c.v.Type(), got, err)
		}
		std, _ := json.Marshal(c.want)
		_ = json.Unmarshal(std, &want)
		if string(mustJSON(back)) != string(mustJSON(want)) {
			t.Errorf("%v: got %s, want %s", c.v.Type(), got, std)
		}
	}
	if got := string(appendAttributeValue(nil, attribute.Float64Value(math.NaN()))); got != "null" {
		t.Errorf("NaN: %s", got)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
