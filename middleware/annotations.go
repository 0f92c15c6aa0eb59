package middleware

// The annotations the middleware writes. Keys are snake_case, like the
// fields of X-Ray documents and the cors_* annotations of package
// corscheck, so that one filter expression style finds them all
// (annotation.cold_start = true).
const (
	// RouteAnnotation holds the request's route pattern (HTTP).
	RouteAnnotation = "route"
	// ColdStartAnnotation is true on the first invocation a Lambda
	// execution environment serves.
	ColdStartAnnotation = "cold_start"
	// ServiceAnnotation names the service (Lambda).
	ServiceAnnotation = "service"
	// TimeoutAnnotation is true on a subsegment sent because the
	// invocation was about to time out.
	TimeoutAnnotation = "timeout"
	// CORSAnnotation says whether the HTTP response of an API Gateway, ALB
	// or function URL invocation carried an Access-Control-Allow-Origin
	// header.
	CORSAnnotation = "cors_headers"
	// TenantAnnotation holds the tenant ID of an invocation of a
	// tenant-isolated Lambda function (lambdacontext's TenantID); the
	// invocation's EMF document carries it as the tenant_id property.
	TenantAnnotation = "tenant_id"
	// EventAnnotation names the kind of HTTP event (api-gateway-rest,
	// api-gateway-http, alb, function-url).
	EventAnnotation = "event_source"
)
