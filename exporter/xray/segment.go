package xray

import (
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Segment records one unit of traced work: a service's handling of a request
// (a segment) or a piece of work inside it (a subsegment). The zero value is
// ready to fill in; Reset makes a used one ready again, keeping its slices'
// capacity. A Segment is not safe for concurrent use.
type Segment struct {
	Name     string
	TraceID  trace.TraceID
	ID       trace.SpanID
	ParentID trace.SpanID // zero for a root segment

	// Independent marks a subsegment that is sent as its own document
	// ("type": "subsegment"); it then needs TraceID and ParentID.
	Independent bool
	// Namespace is "aws" for AWS SDK calls, "remote" for other downstream
	// calls, and empty otherwise.
	Namespace string

	Start time.Time
	End   time.Time // zero while in progress

	Error    bool // a client error (4xx)
	Throttle bool // throttled (429)
	Fault    bool // a server error (5xx) or a failure

	Origin string // e.g. AWS::ECS::Container, AWS::EC2::Instance
	// ServiceVersion is the version of the application (the "service"
	// block), written on segments, not on subsegments.
	ServiceVersion string
	User           string
	ResourceARN    string

	HTTP HTTP
	AWS  AWS

	Annotations []Annotation
	Metadata    []Metadata
	Cause       *Cause

	// Subsegments are embedded in this segment's document.
	Subsegments []*Segment
}

// HTTP is the http block of a segment. Only fields that are set are written.
type HTTP struct {
	Method        string
	URL           string
	UserAgent     string
	ClientIP      string
	XForwardedFor bool
	// Traced is set on a downstream call's subsegment when the callee was
	// sent a trace header.
	Traced bool

	Status        int
	ContentLength int64 // written when Status is set and ContentLength >= 0
}

// AWS is the aws block of a segment: details of an AWS SDK call for
// subsegments, or where the service runs for segments.
type AWS struct {
	Operation string
	Region    string
	RequestID string
	TableName string
	QueueURL  string
	Retries   int

	// Environment is a pre-encoded JSON object body (without braces) describing
	// where the service runs, such as "ecs":{...} or "ec2":{...}. It is
	// computed once per process and shared by every segment.
	Environment []byte
}

func (a *AWS) empty() bool {
	return a.Operation == "" && a.Region == "" && a.RequestID == "" && a.TableName == "" &&
		a.QueueURL == "" && a.Retries == 0 && len(a.Environment) == 0
}

// AnnotationKind is the type of an annotation's value.
type AnnotationKind uint8

// Annotation value kinds.
const (
	StringAnnotation AnnotationKind = iota
	NumberAnnotation
	BoolAnnotation
)

// Annotation is an indexed key-value pair that X-Ray can filter traces by.
// Keys are written with characters other than [A-Za-z0-9_] replaced by '_'.
type Annotation struct {
	Key    string
	Kind   AnnotationKind
	String string
	Number float64
	Bool   bool
}

// StringAttr returns a string annotation.
func StringAttr(key, value string) Annotation {
	return Annotation{Key: key, Kind: StringAnnotation, String: value}
}

// NumberAttr returns a number annotation.
func NumberAttr(key string, value float64) Annotation {
	return Annotation{Key: key, Kind: NumberAnnotation, Number: value}
}

// BoolAttr returns a boolean annotation.
func BoolAttr(key string, value bool) Annotation {
	return Annotation{Key: key, Kind: BoolAnnotation, Bool: value}
}

// Metadata is a non-indexed value stored under a namespace ("default" when
// empty). JSON holds the value already encoded as JSON.
type Metadata struct {
	Namespace string
	Key       string
	JSON      []byte
}

// Cause describes why a segment failed.
type Cause struct {
	WorkingDirectory string
	Exceptions       []Exception
}

// Exception is one error in a Cause.
type Exception struct {
	ID      trace.SpanID
	Type    string
	Message string
	Remote  bool
	Stack   []StackFrame
	// Truncated counts frames left out of Stack.
	Truncated int
}

// StackFrame is one frame of an exception's stack.
type StackFrame struct {
	Path  string
	Line  int
	Label string
}

// Reset clears s for reuse, keeping the capacity of its slices.
func (s *Segment) Reset() {
	ann, meta, subs := s.Annotations[:0], s.Metadata[:0], s.Subsegments[:0]
	clear(s.Subsegments)
	*s = Segment{Annotations: ann, Metadata: meta, Subsegments: subs}
}

// SetHTTPStatus records the response status and sets Error, Throttle and
// Fault the way X-Ray expects: 4xx is an error, 429 also a throttle, 5xx a fault.
func (s *Segment) SetHTTPStatus(status int) {
	s.HTTP.Status = status
	switch {
	case status == 429:
		s.Error, s.Throttle = true, true
	case status >= 400 && status < 500:
		s.Error = true
	case status >= 500:
		s.Fault = true
	}
}
