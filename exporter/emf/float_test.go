package emf

import (
	"encoding/json"
	"math"
	"testing"
)

func TestAppendFloat(t *testing.T) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.2, 0.3, 1.5, 3.25, 12.345678, 1e-6, 9.99e-7, 123456.789,
		1 << 52, 1<<52 - 1, 1<<53 + 2, 4503599627370495.5, 0.000123, -7.000001, 1e21, 1e20, 5e-324, math.MaxFloat64, 2.5e-5,
		1.0000000000000002, 0.30000000000000004, 100, 1234567.1234567} {
		want, _ := json.Marshal(v)
		if got := appendFloat(nil, v); string(got) != string(want) {
			t.Errorf("appendFloat(%v) = %s, encoding/json %s", v, got, want)
		}
	}
}

// FuzzAppendFloat checks the float fast path against encoding/json.
func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, 1.5, 0.1, 3.14159, 1e-6, 4503599627370495.5, 123.456} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		// Explore the fast-path range more often than raw bits would.
		for _, x := range []float64{v, float64(int64(bits%2e9)) / 1e3, float64(int64(bits%1e12)) / 1e6} {
			want, _ := json.Marshal(x)
			if got := appendFloat(nil, x); string(got) != string(want) {
				t.Fatalf("appendFloat(%v) = %s, encoding/json %s", x, got, want)
			}
		}
	})
}
