package metrics

import (
	"bytes"

	"github.com/seed-c77c9410/sidelight/internal/cwmetric"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
)

// Reasons a point is dropped at intake because CloudWatch would refuse its
// dimensions, and with them the whole PutMetricData request (the rules are
// package cwmetric's).
const (
	badDimensionName  = "bad_dimension_name"
	badDimensionValue = "bad_dimension_value"
	duplicateDim      = "duplicate_dimension"
)

func validDimensionName(b []byte) bool  { return cwmetric.ValidDimensionName(b) }
func validDimensionValue(b []byte) bool { return cwmetric.ValidDimensionValue(b) }

// dimensionProblem names the first rule dims break, or "". sorted lists
// the indexes of dims in name order, so duplicates are neighbours.
func dimensionProblem(dims []emfdoc.Dim, sorted []int) string {
	for i, d := range dims {
		if !validDimensionName(d.Name) {
			return badDimensionName
		}
		if !validDimensionValue(d.Value) {
			return badDimensionValue
		}
		if i > 0 && bytes.Equal(dims[sorted[i-1]].Name, dims[sorted[i]].Name) {
			return duplicateDim
		}
	}
	return ""
}
