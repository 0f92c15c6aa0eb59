// Package lambdacors turns Lambda HTTP events into corscheck.Events, so
// that a Lambda handler's responses get the same CORS verdicts as net/http
// ones.
//
// One function per event source: APIGatewayProxy (REST APIs, payload 1.0),
// APIGatewayV2HTTP (HTTP APIs, payload 2.0), FunctionURL and ALB. Each reads
// the request's method, headers and cookies, and the response's status and
// headers, without copying the header maps.
//
// The verdict describes the response the function returned. When the
// service in front adds CORS headers itself (the CORS setting of a Function
// URL or an HTTP API, or a REST API's gateway responses), the browser sees
// headers the function never wrote; evaluate only where the function owns
// CORS. A response the service cannot use is answered by the service with
// its own error: a REST API or ALB answers 502 when statusCode is missing,
// and the Event says so.
package lambdacors
