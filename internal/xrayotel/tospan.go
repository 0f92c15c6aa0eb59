package xrayotel

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
)

// MaxSubsegmentDepth bounds how deeply embedded subsegments may nest in a
// document given to SegmentToSpans.
const MaxSubsegmentDepth = 32

// SegmentSpans is one X-Ray document as OTLP: the resource it describes
// and its spans.
type SegmentSpans struct {
	// Resource holds service.name (for segments), service.version and what
	// the origin and aws block say about where the service runs.
	Resource *resourcev1.Resource
	// Spans holds the document's own span first, then one span per
	// embedded subsegment, depth first.
	Spans []*tracev1.Span
}

// document holds the fields of an X-Ray segment document that
// SegmentToSpans maps. Unknown fields are ignored.
type document struct {
	Name        string                    `json:"name"`
	ID          string                    `json:"id"`
	TraceID     string                    `json:"trace_id"`
	ParentID    string                    `json:"parent_id"`
	Type        string                    `json:"type"`
	StartTime   *float64                  `json:"start_time"`
	EndTime     *float64                  `json:"end_time"`
	InProgress  bool                      `json:"in_progress"`
	Namespace   string                    `json:"namespace"`
	Error       bool                      `json:"error"`
	Throttle    bool                      `json:"throttle"`
	Fault       bool                      `json:"fault"`
	Origin      string                    `json:"origin"`
	User        string                    `json:"user"`
	HTTP        *docHTTP                  `json:"http"`
	AWS         *docAWS                   `json:"aws"`
	SQL         *docSQL                   `json:"sql"`
	Service     *struct{ Version string } `json:"service"`
	Annotations map[string]any            `json:"annotations"`
	Metadata    map[string]any            `json:"metadata"`
	Cause       json.RawMessage           `json:"cause"`
	Subsegments []document                `json:"subsegments"`
}

type docHTTP struct {
	Request *struct {
		Method        string `json:"method"`
		URL           string `json:"url"`
		UserAgent     string `json:"user_agent"`
		ClientIP      string `json:"client_ip"`
		XForwardedFor bool   `json:"x_forwarded_for"`
	} `json:"request"`
	Response *struct {
		Status        *float64 `json:"status"`
		ContentLength *float64 `json:"content_length"`
	} `json:"response"`
}

type docAWS struct {
	Operation string `json:"operation"`
	Region    string `json:"region"`
	RequestID string `json:"request_id"`
	TableName string `json:"table_name"`
	QueueURL  string `json:"queue_url"`
	AccountID string `json:"account_id"`
	ECS       *struct {
		Container        string `json:"container"`
		ContainerID      string `json:"container_id"`
		ContainerARN     string `json:"container_arn"`
		ClusterARN       string `json:"cluster_arn"`
		TaskARN          string `json:"task_arn"`
		TaskFamily       string `json:"task_family"`
		LaunchType       string `json:"launch_type"`
		AvailabilityZone string `json:"availability_zone"`
	} `json:"ecs"`
	EC2 *struct {
		InstanceID       string `json:"instance_id"`
		InstanceSize     string `json:"instance_size"`
		AMIID            string `json:"ami_id"`
		AvailabilityZone string `json:"availability_zone"`
	} `json:"ec2"`
	EKS *struct {
		ClusterName string `json:"cluster_name"`
		Pod         string `json:"pod"`
		ContainerID string `json:"container_id"`
	} `json:"eks"`
	ElasticBeanstalk *struct {
		EnvironmentName string   `json:"environment_name"`
		VersionLabel    string   `json:"version_label"`
		DeploymentID    *float64 `json:"deployment_id"`
	} `json:"elastic_beanstalk"`
	CloudWatchLogs []struct {
		LogGroup string `json:"log_group"`
		ARN      string `json:"arn"`
	} `json:"cloudwatch_logs"`
	XRay *struct {
		SDK        string `json:"sdk"`
		SDKVersion string `json:"sdk_version"`
	} `json:"xray"`
}

type docSQL struct {
	URL              string `json:"url"`
	ConnectionString string `json:"connection_string"`
	SanitizedQuery   string `json:"sanitized_query"`
	DatabaseType     string `json:"database_type"`
	User             string `json:"user"`
}

type docCause struct {
	Exceptions []struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Stack   []struct {
			Path  string `json:"path"`
			Line  int    `json:"line"`
			Label string `json:"label"`
		} `json:"stack"`
	} `json:"exceptions"`
}

// SegmentToSpans translates one X-Ray segment or independent subsegment
// document (as sent to the X-Ray daemon, without the header line) into
// OTLP: a SERVER span for a segment, a CLIENT span for a subsegment in the
// "aws" or "remote" namespace and an INTERNAL span otherwise, with the
// http, aws and sql blocks as current semantic-convention attributes,
// annotations and metadata as attributes, and the cause as exception
// events. See the package documentation for the rules. A malformed
// document gives an error wrapping ErrBadDocument, ErrTraceID or
// ErrSpanID.
func (t *Translator) SegmentToSpans(doc []byte) (*SegmentSpans, error) {
	var d document
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadDocument, err)
	}
	traceID, err := ParseTraceID(d.TraceID)
	if err != nil {
		return nil, err
	}
	var parent []byte
	if d.ParentID != "" {
		if parent, err = ParseSpanID(d.ParentID); err != nil {
			return nil, fmt.Errorf("%w: parent_id %q", ErrParentID, d.ParentID)
		}
	}
	if d.Type != "" && d.Type != "subsegment" {
		return nil, fmt.Errorf("%w: type %q", ErrBadDocument, d.Type)
	}
	if d.Type == "subsegment" && parent == nil {
		return nil, fmt.Errorf("%w: subsegment without parent_id", ErrBadDocument)
	}
	out := &SegmentSpans{Resource: &resourcev1.Resource{}}
	rb := attrBuilder{}
	if d.Type == "" {
		rb.str("service.name", d.Name)
		resourceFromDocument(&rb, &d)
	}
	if err := t.appendSpans(&out.Spans, &d, traceID, parent, d.Type == "", &rb, 0); err != nil {
		return nil, err
	}
	out.Resource.Attributes = rb.attrs
	return out, nil
}

func (t *Translator) appendSpans(out *[]*tracev1.Span, d *document, traceID, parent []byte, segment bool, rb *attrBuilder, depth int) error {
	if depth > MaxSubsegmentDepth {
		return fmt.Errorf("%w: subsegments nested deeper than %d", ErrBadDocument, MaxSubsegmentDepth)
	}
	id, err := ParseSpanID(d.ID)
	if err != nil {
		return err
	}
	s := &tracev1.Span{TraceId: traceID, SpanId: id, ParentSpanId: parent, Name: d.Name}
	if s.StartTimeUnixNano, err = secondsToNanos(d.StartTime, "start_time"); err != nil {
		return err
	}
	if d.EndTime != nil && !d.InProgress {
		if s.EndTimeUnixNano, err = secondsToNanos(d.EndTime, "end_time"); err != nil {
			return err
		}
		s.EndTimeUnixNano = max(s.EndTimeUnixNano, s.StartTimeUnixNano)
	}
	switch {
	case segment:
		s.Kind = tracev1.Span_SPAN_KIND_SERVER
	case d.Namespace == "aws" || d.Namespace == "remote":
		s.Kind = tracev1.Span_SPAN_KIND_CLIENT
	default:
		s.Kind = tracev1.Span_SPAN_KIND_INTERNAL
	}
	var ab attrBuilder
	spanAttributes(&ab, d, segment, rb)
	s.Attributes = ab.attrs
	s.Events = causeEvents(d.Cause, s)
	status := d.Fault || (d.Error && s.Kind == tracev1.Span_SPAN_KIND_CLIENT) ||
		(d.Error && (d.HTTP == nil || d.HTTP.Response == nil || d.HTTP.Response.Status == nil))
	if status {
		s.Status = &tracev1.Status{Code: tracev1.Status_STATUS_CODE_ERROR}
		if len(s.Events) == 1 {
			s.Status.Message = exceptionMessage(s.Events[0])
		}
	}
	*out = append(*out, s)
	for i := range d.Subsegments {
		if err := t.appendSpans(out, &d.Subsegments[i], traceID, id, false, rb, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// maxSeconds bounds the times SegmentToSpans accepts (about the year 2514),
// so they fit OTLP's nanoseconds.
const maxSeconds = 1 << 34

func secondsToNanos(sec *float64, field string) (uint64, error) {
	if sec == nil {
		return 0, fmt.Errorf("%w: no %s", ErrBadDocument, field)
	}
	if math.IsNaN(*sec) || *sec < 0 || *sec >= maxSeconds {
		return 0, fmt.Errorf("%w: %s %v out of range", ErrBadDocument, field, *sec)
	}
	return uint64(math.Round(*sec*1e6)) * 1000, nil
}

// spanAttributes maps the blocks, annotations and metadata of d to span
// attributes; resource metadata of a segment goes to rb.
func spanAttributes(ab *attrBuilder, d *document, segment bool, rb *attrBuilder) {
	if h := d.HTTP; h != nil {
		if r := h.Request; r != nil {
			ab.str("http.request.method", r.Method)
			ab.str("url.full", r.URL)
			ab.str("user_agent.original", r.UserAgent)
			if r.XForwardedFor {
				ab.str("http.client_ip", r.ClientIP)
			} else {
				ab.str("client.address", r.ClientIP)
			}
		}
		if r := h.Response; r != nil {
			if r.Status != nil {
				ab.number("http.response.status_code", *r.Status)
			}
			if r.ContentLength != nil {
				ab.number("http.response.body.size", *r.ContentLength)
			}
		}
	}
	if a := d.AWS; a != nil && !segment || d.Namespace == "aws" {
		if d.Namespace == "aws" {
			ab.str("rpc.system", "aws-api")
			ab.str("rpc.service", d.Name)
		}
		if a := d.AWS; a != nil {
			ab.str("rpc.method", a.Operation)
			ab.str("aws.region", a.Region)
			ab.str("aws.request_id", a.RequestID)
			ab.str("aws.table_name", a.TableName)
			ab.str("aws.queue_url", a.QueueURL)
		}
	} else if a != nil && a.QueueURL != "" {
		ab.str("messaging.system", "aws_sqs")
		ab.str("aws.queue_url", a.QueueURL)
	}
	if q := d.SQL; q != nil {
		ab.str("db.system.name", q.DatabaseType)
		ab.str("db.query.text", q.SanitizedQuery)
		ab.str("db.connection_string", q.URL)
		ab.str("db.connection_string", q.ConnectionString)
		ab.str("db.user", q.User)
	}
	ab.str("enduser.id", d.User)
	if len(d.Annotations) > 0 {
		keys := sortedKeys(d.Annotations)
		for _, k := range keys {
			ab.any(k, d.Annotations[k], 0)
		}
		ab.strs("aws.xray.annotations", keys)
	}
	for _, ns := range sortedKeys(d.Metadata) {
		members, ok := d.Metadata[ns].(map[string]any)
		if !ok {
			continue
		}
		if ns != "default" {
			if b, err := json.Marshal(members); err == nil {
				ab.str(metadataNamespacePrefix+ns, string(b))
			}
			continue
		}
		for _, k := range sortedKeys(members) {
			if r, ok := strings.CutPrefix(k, resourceMetadataPrefix); ok && segment {
				rb.any(r, members[k], 0)
				continue
			}
			ab.any(k, members[k], 0)
		}
	}
}

// resourceFromDocument maps a segment's service, origin and aws block to
// resource attributes.
func resourceFromDocument(rb *attrBuilder, d *document) {
	if d.Service != nil {
		rb.str("service.version", d.Service.Version)
	}
	switch d.Origin {
	case OriginEC2:
		rb.str("cloud.platform", "aws_ec2")
	case OriginECS:
		rb.str("cloud.platform", "aws_ecs")
	case OriginECSEC2:
		rb.str("cloud.platform", "aws_ecs")
		rb.str("aws.ecs.launchtype", "ec2")
	case OriginECSFargate:
		rb.str("cloud.platform", "aws_ecs")
		rb.str("aws.ecs.launchtype", "fargate")
	case OriginEKS:
		rb.str("cloud.platform", "aws_eks")
	case OriginBeanstalk:
		rb.str("cloud.platform", "aws_elastic_beanstalk")
	case OriginAppRunner:
		rb.str("cloud.platform", "aws_app_runner")
	}
	a := d.AWS
	if a == nil {
		return
	}
	rb.str("cloud.account.id", a.AccountID)
	if e := a.ECS; e != nil {
		rb.str("container.name", e.Container)
		rb.str("container.id", e.ContainerID)
		rb.str("aws.ecs.container.arn", e.ContainerARN)
		rb.str("aws.ecs.cluster.arn", e.ClusterARN)
		rb.str("aws.ecs.task.arn", e.TaskARN)
		rb.str("aws.ecs.task.family", e.TaskFamily)
		rb.str("aws.ecs.launchtype", e.LaunchType)
		rb.str("cloud.availability_zone", e.AvailabilityZone)
	}
	if e := a.EC2; e != nil {
		rb.str("host.id", e.InstanceID)
		rb.str("host.type", e.InstanceSize)
		rb.str("host.image.id", e.AMIID)
		rb.str("cloud.availability_zone", e.AvailabilityZone)
	}
	if e := a.EKS; e != nil {
		rb.str("k8s.cluster.name", e.ClusterName)
		rb.str("k8s.pod.name", e.Pod)
		rb.str("container.id", e.ContainerID)
	}
	if e := a.ElasticBeanstalk; e != nil {
		rb.str("service.namespace", e.EnvironmentName)
		rb.str("service.version", e.VersionLabel)
		if e.DeploymentID != nil {
			rb.str("service.instance.id", strconv.FormatFloat(*e.DeploymentID, 'f', -1, 64))
		}
	}
	if len(a.CloudWatchLogs) > 0 {
		names := make([]string, 0, len(a.CloudWatchLogs))
		arns := make([]string, 0, len(a.CloudWatchLogs))
		anyARN := false
		for _, g := range a.CloudWatchLogs {
			names = append(names, g.LogGroup)
			arns = append(arns, g.ARN)
			anyARN = anyARN || g.ARN != ""
		}
		rb.strs("aws.log.group.names", names)
		if anyARN {
			rb.strs("aws.log.group.arns", arns)
		}
	}
	if x := a.XRay; x != nil {
		if lang, ok := strings.CutPrefix(x.SDK, "opentelemetry for "); ok {
			rb.str("telemetry.sdk.name", "opentelemetry")
			rb.str("telemetry.sdk.language", lang)
		} else {
			rb.str("telemetry.sdk.name", x.SDK)
		}
		rb.str("telemetry.sdk.version", x.SDKVersion)
	}
}

// causeEvents turns the exceptions of a cause object into exception
// events at the span's end (or start, while in progress). A cause that
// refers to an exception in another document by ID is left out.
func causeEvents(raw json.RawMessage, s *tracev1.Span) []*tracev1.Span_Event {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var c docCause
	if json.Unmarshal(raw, &c) != nil {
		return nil
	}
	at := s.EndTimeUnixNano
	if at == 0 {
		at = s.StartTimeUnixNano
	}
	var events []*tracev1.Span_Event
	for _, ex := range c.Exceptions {
		var ab attrBuilder
		ab.str("exception.type", ex.Type)
		ab.str("exception.message", ex.Message)
		if len(ex.Stack) > 0 {
			frames := make([]frame, len(ex.Stack))
			for i, f := range ex.Stack {
				frames[i] = frame{path: f.Path, line: f.Line, label: f.Label}
			}
			var b strings.Builder
			formatStack(&b, frames)
			ab.str("exception.stacktrace", b.String())
		}
		events = append(events, &tracev1.Span_Event{Name: "exception", TimeUnixNano: at, Attributes: ab.attrs})
	}
	return events
}

func exceptionMessage(ev *tracev1.Span_Event) string {
	for _, kv := range ev.Attributes {
		if kv.Key == "exception.message" {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// attrBuilder collects attributes, keeping the first value of each key
// and leaving out empty strings.
type attrBuilder struct {
	attrs []*commonv1.KeyValue
	seen  map[string]struct{}
}

func (b *attrBuilder) add(k string, v *commonv1.AnyValue) {
	if v == nil {
		return
	}
	if b.seen == nil {
		b.seen = make(map[string]struct{})
	}
	if _, dup := b.seen[k]; dup {
		return
	}
	b.seen[k] = struct{}{}
	b.attrs = append(b.attrs, &commonv1.KeyValue{Key: k, Value: v})
}

func (b *attrBuilder) str(k, v string) {
	if v != "" {
		b.add(k, stringValue(v))
	}
}

func (b *attrBuilder) strs(k string, vs []string) {
	arr := &commonv1.ArrayValue{Values: make([]*commonv1.AnyValue, len(vs))}
	for i, v := range vs {
		arr.Values[i] = stringValue(v)
	}
	b.add(k, &commonv1.AnyValue{Value: &commonv1.AnyValue_ArrayValue{ArrayValue: arr}})
}

func (b *attrBuilder) number(k string, f float64) { b.add(k, numberValue(f)) }

func (b *attrBuilder) any(k string, v any, depth int) { b.add(k, jsonToValue(v, depth)) }

func stringValue(s string) *commonv1.AnyValue {
	return &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: s}}
}

// numberValue is an integer value when f is a whole number that a float64
// holds exactly, and a double otherwise.
func numberValue(f float64) *commonv1.AnyValue {
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return &commonv1.AnyValue{Value: &commonv1.AnyValue_IntValue{IntValue: int64(f)}}
	}
	return &commonv1.AnyValue{Value: &commonv1.AnyValue_DoubleValue{DoubleValue: f}}
}

// jsonToValue converts a decoded JSON value; null becomes nil (and is left
// out), objects become key-value lists in key order.
func jsonToValue(v any, depth int) *commonv1.AnyValue {
	switch x := v.(type) {
	case string:
		return stringValue(x)
	case bool:
		return &commonv1.AnyValue{Value: &commonv1.AnyValue_BoolValue{BoolValue: x}}
	case float64:
		return numberValue(x)
	case []any:
		if depth >= maxValueDepth {
			return nil
		}
		arr := &commonv1.ArrayValue{}
		for _, e := range x {
			if ev := jsonToValue(e, depth+1); ev != nil {
				arr.Values = append(arr.Values, ev)
			}
		}
		return &commonv1.AnyValue{Value: &commonv1.AnyValue_ArrayValue{ArrayValue: arr}}
	case map[string]any:
		if depth >= maxValueDepth {
			return nil
		}
		kvl := &commonv1.KeyValueList{}
		for _, k := range sortedKeys(x) {
			if ev := jsonToValue(x[k], depth+1); ev != nil {
				kvl.Values = append(kvl.Values, &commonv1.KeyValue{Key: k, Value: ev})
			}
		}
		return &commonv1.AnyValue{Value: &commonv1.AnyValue_KvlistValue{KvlistValue: kvl}}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
