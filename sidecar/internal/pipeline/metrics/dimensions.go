package metrics

import (
	"bytes"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emf"
)

// Reasons a point is dropped at intake because CloudWatch would refuse its
// dimensions, and with them the whole PutMetricData request.
const (
	badDimensionName  = "bad_dimension_name"
	badDimensionValue = "bad_dimension_value"
	duplicateDim      = "duplicate_dimension"
)

// CloudWatch's Dimension rules (API reference, type Dimension): names of
// 1..255 and values of 1..1024 characters, ASCII only, at least one
// character that is not whitespace, no ASCII control characters, and names
// do not start with a colon.
const (
	maxDimNameLen  = 255
	maxDimValueLen = 1024
)

func validDimensionName(b []byte) bool {
	return len(b) > 0 && len(b) <= maxDimNameLen && b[0] != ':' && validDimensionText(b)
}

func validDimensionValue(b []byte) bool {
	return len(b) <= maxDimValueLen && validDimensionText(b)
}

// validDimensionText: non-empty printable ASCII, not only spaces.
func validDimensionText(b []byte) bool {
	blank := true
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			return false
		}
		blank = blank && c == ' '
	}
	return len(b) > 0 && !blank
}

// dimensionProblem names the first rule dims break, or "". sorted lists
// the indexes of dims in name order, so duplicates are neighbours.
func dimensionProblem(dims []emf.Dim, sorted []int) string {
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
