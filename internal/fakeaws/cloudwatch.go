package fakeaws

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// MetricRequest is one decoded PutMetricData request.
type MetricRequest struct {
	Namespace  string        `cbor:"Namespace"`
	MetricData []MetricDatum `cbor:"MetricData"`
	// StrictEntityValidation and EntityMetricData are accepted but not kept.
	StrictEntityValidation *bool             `cbor:"StrictEntityValidation,omitempty"`
	EntityMetricData       []cbor.RawMessage `cbor:"EntityMetricData,omitempty"`
}

// MetricDatum is one decoded MetricDatum.
type MetricDatum struct {
	MetricName        string        `cbor:"MetricName"`
	Dimensions        []Dimension   `cbor:"Dimensions,omitempty"`
	Timestamp         time.Time     `cbor:"Timestamp,omitempty"`
	Value             *float64      `cbor:"Value,omitempty"`
	StatisticValues   *StatisticSet `cbor:"StatisticValues,omitempty"`
	Values            []float64     `cbor:"Values,omitempty"`
	Counts            []float64     `cbor:"Counts,omitempty"`
	Unit              string        `cbor:"Unit,omitempty"`
	StorageResolution *int32        `cbor:"StorageResolution,omitempty"`
}

// Dimension is a metric dimension.
type Dimension struct {
	Name  string `cbor:"Name"`
	Value string `cbor:"Value"`
}

// StatisticSet is a pre-aggregated datum.
type StatisticSet struct {
	SampleCount float64 `cbor:"SampleCount"`
	Sum         float64 `cbor:"Sum"`
	Minimum     float64 `cbor:"Minimum"`
	Maximum     float64 `cbor:"Maximum"`
}

var decMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		TimeTag:           cbor.DecTagRequired,
	}.DecMode()
	if err != nil {
		panic(err) // static options; cannot fail
	}
	return m
}()

func cborError(code, msg string) []byte {
	b, _ := cbor.Marshal(map[string]string{"__type": code, "message": msg})
	return b
}

// CloudWatch's documented PutMetricData limits.
const (
	maxMetricRequestBytes = 1 << 20
	maxDatums             = 1000
	maxValues             = 150
	maxDimensions         = 30
)

func (s *Server) putMetricData(w http.ResponseWriter, body []byte) {
	var in MetricRequest
	if err := decMode.Unmarshal(body, &in); err != nil {
		writeError(w, CloudWatch, http.StatusBadRequest, "InvalidParameterValue", "cbor: "+err.Error())
		s.recordInvalid()
		return
	}
	s.mu.Lock()
	refuse := s.refuse
	s.mu.Unlock()
	err := validateMetrics(&in, len(body))
	if err == nil && refuse != nil {
		for i, d := range in.MetricData {
			if refuse(d) {
				err = fmt.Errorf("datum %d: refused by the test's rule", i)
				break
			}
		}
	}
	if err != nil {
		writeError(w, CloudWatch, http.StatusBadRequest, "InvalidParameterValue", err.Error())
		s.recordInvalid()
		return
	}
	s.mu.Lock()
	s.metrics = append(s.metrics, in)
	s.notifyLocked()
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	_, _ = w.Write([]byte{0xa0})
}

func (s *Server) recordInvalid() {
	s.mu.Lock()
	s.requests["invalid"]++
	s.notifyLocked()
	s.mu.Unlock()
}

// Invalid reports how many requests the fake rejected as invalid (bad
// encoding or limits exceeded), across services.
func (s *Server) Invalid() int { return s.Requests("invalid") }

// RefuseMetrics makes PutMetricData answer 400 InvalidParameterValue,
// for the whole request, when any datum satisfies refuse (nil: no extra
// rule). It stands in for CloudWatch rules the fake does not model.
func (s *Server) RefuseMetrics(refuse func(MetricDatum) bool) {
	s.mu.Lock()
	s.refuse = refuse
	s.mu.Unlock()
}

// validateMetrics applies CloudWatch's documented PutMetricData rules; one
// invalid datum fails the whole request, as in CloudWatch.
func validateMetrics(in *MetricRequest, size int) error {
	if in.Namespace == "" || len(in.Namespace) > 255 || !printableASCII(in.Namespace) || in.Namespace[0] == ':' {
		return fmt.Errorf("namespace %q: 1..255 ASCII characters, no control characters, not starting with ':'", in.Namespace)
	}
	if size > maxMetricRequestBytes {
		return fmt.Errorf("request of %d bytes exceeds 1 MB", size)
	}
	if len(in.MetricData) == 0 || len(in.MetricData) > maxDatums {
		return fmt.Errorf("%d datums not in 1..1000", len(in.MetricData))
	}
	for i, d := range in.MetricData {
		if d.MetricName == "" || len(d.MetricName) > 255 {
			return fmt.Errorf("datum %d: metric name length %d", i, len(d.MetricName))
		}
		if len(d.Dimensions) > maxDimensions {
			return fmt.Errorf("datum %d: %d dimensions", i, len(d.Dimensions))
		}
		if err := validateDimensions(d.Dimensions); err != nil {
			return fmt.Errorf("datum %d: %w", i, err)
		}
		kinds := 0
		if d.Value != nil {
			kinds++
		}
		if d.StatisticValues != nil {
			kinds++
		}
		if len(d.Values) > 0 {
			kinds++
		}
		if kinds != 1 {
			return fmt.Errorf("datum %d: exactly one of Value, StatisticValues, Values required", i)
		}
		if len(d.Values) > maxValues {
			return fmt.Errorf("datum %d: %d values exceed 150", i, len(d.Values))
		}
		if len(d.Counts) != 0 && len(d.Counts) != len(d.Values) {
			return fmt.Errorf("datum %d: %d counts for %d values", i, len(d.Counts), len(d.Values))
		}
		if d.StorageResolution != nil && *d.StorageResolution != 1 && *d.StorageResolution != 60 {
			return fmt.Errorf("datum %d: storage resolution %d", i, *d.StorageResolution)
		}
	}
	return nil
}

// validateDimensions applies the Dimension type's documented rules: names
// of 1..255 and values of 1..1024 ASCII characters, with at least one
// that is not whitespace and none a control character, names not starting
// with a colon; and, as CloudWatch answers, no name twice in one datum.
func validateDimensions(dims []Dimension) error {
	for i, d := range dims {
		switch {
		case len(d.Name) < 1 || len(d.Name) > 255 || !printableASCII(d.Name) || strings.TrimSpace(d.Name) == "" || d.Name[0] == ':':
			return fmt.Errorf("dimension name %q is invalid", d.Name)
		case len(d.Value) < 1 || len(d.Value) > 1024 || !printableASCII(d.Value) || strings.TrimSpace(d.Value) == "":
			return fmt.Errorf("dimension %q: value %q is invalid", d.Name, d.Value)
		}
		for _, e := range dims[:i] {
			if e.Name == d.Name {
				return fmt.Errorf("dimension name %q appears twice", d.Name)
			}
		}
	}
	return nil
}

// printableASCII: only ASCII characters, none of them control characters.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// Metrics returns the PutMetricData requests accepted, in arrival order.
func (s *Server) Metrics() []MetricRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]MetricRequest(nil), s.metrics...)
}
