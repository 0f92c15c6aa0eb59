package otelemf

import (
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
)

func TestMapUnit(t *testing.T) {
	for _, tc := range []struct {
		ucum    string
		counted bool
		want    emf.Unit
		scale   float64
	}{
		{"s", false, emf.Seconds, 1}, {"ms", true, emf.Milliseconds, 1}, {"ns", true, emf.Microseconds, 1e-3},
		{"min", false, emf.Seconds, 60}, {"By", true, emf.Bytes, 1}, {"KiBy", true, emf.Kilobytes, 1},
		{"MiBy", false, emf.Megabytes, 1}, {"bit/s", false, emf.BitsPerSecond, 1}, {"%", false, emf.Percent, 1},
		{"{request}", true, emf.Count, 1}, {"{request}/s", false, emf.CountPerSecond, 1},
		{"1", true, emf.Count, 1}, {"1", false, emf.None, 1}, {"", false, emf.None, 1}, {"furlong", true, emf.None, 1},
	} {
		u, s := mapUnit(tc.ucum, tc.counted)
		if u != tc.want || s != tc.scale || !u.Valid() {
			t.Errorf("mapUnit(%q, %v) = %s ×%v, want %s ×%v", tc.ucum, tc.counted, u, s, tc.want, tc.scale)
		}
	}
}
