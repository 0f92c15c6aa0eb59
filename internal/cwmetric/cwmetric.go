package cwmetric

// PutMetricData's limits (CloudWatch API reference, PutMetricData and
// MetricDatum).
const (
	MaxDimensions       = 30   // dimensions per datum
	MaxValuesPerDatum   = 150  // entries of Values (and Counts) per datum
	MaxDatumsPerRequest = 1000 // MetricData entries per request
	MaxRequestBytes     = 1 << 20
	MaxDimNameLen       = 255
	MaxDimValueLen      = 1024
	MaxNameLen          = 255 // metric names and namespaces
)

// Dim is one dimension of a point.
type Dim struct{ Name, Value string }

// Stats is a statistic set: the count, sum, minimum and maximum of the
// values a point stands for when they are not listed one by one.
type Stats struct{ Count, Sum, Min, Max float64 }

// Point is one metric observation on its way to PutMetricData. It holds
// either Values (each with its count in Counts, or once each when Counts is
// nil) or, when Stats is set, a statistic set and no values.
type Point struct {
	Namespace   string
	Name        string
	Unit        string // a CloudWatch StandardUnit name, "None" when unknown
	Resolution  int    // storage resolution in seconds: 60 or 1
	Dims        []Dim  // unordered, names unique
	TimestampMs int64
	Values      []float64
	Counts      []float64 // nil, or one count per value
	Stats       *Stats
}

// Samples returns how many observations p stands for.
func (p *Point) Samples() float64 {
	if p.Stats != nil {
		return p.Stats.Count
	}
	if p.Counts == nil {
		return float64(len(p.Values))
	}
	var n float64
	for _, c := range p.Counts {
		n += c
	}
	return n
}

// ValidDimensionName reports whether s is a name CloudWatch takes for a
// dimension: 1..255 printable ASCII characters, not only spaces, not
// starting with ':'.
func ValidDimensionName[T ~string | ~[]byte](s T) bool {
	return len(s) > 0 && len(s) <= MaxDimNameLen && s[0] != ':' && validText(s)
}

// ValidDimensionValue reports whether s is a value CloudWatch takes for a
// dimension: 1..1024 printable ASCII characters, not only spaces.
func ValidDimensionValue[T ~string | ~[]byte](s T) bool {
	return len(s) <= MaxDimValueLen && validText(s)
}

// ValidMetricName reports whether s is a metric name the sidecar sends:
// 1..255 printable ASCII characters, not only spaces.
func ValidMetricName[T ~string | ~[]byte](s T) bool {
	return len(s) <= MaxNameLen && validText(s)
}

// validText: non-empty printable ASCII, not only spaces.
func validText[T ~string | ~[]byte](s T) bool {
	blank := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			return false
		}
		blank = blank && c == ' '
	}
	return len(s) > 0 && !blank
}

// Units are CloudWatch's StandardUnit names.
var Units = []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
	"Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
	"Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}
