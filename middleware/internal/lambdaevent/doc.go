// Package lambdaevent reads the HTTP side of AWS Lambda events for the
// Lambda middleware: the request of an API Gateway REST API (payload 1.0),
// HTTP API (payload 2.0), Application Load Balancer or function URL event,
// and the status and CORS headers of the response the function returned.
//
// Typed events from github.com/aws/aws-lambda-go/events are read field by
// field without reflection; raw JSON (the lambda.Handler form, or a
// json.RawMessage event) is decoded into a small struct that names only the
// fields used. Anything else is reported as not an HTTP event.
package lambdaevent
