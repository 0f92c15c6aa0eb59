// Package lambdabench compares the per-invocation cost of Sidelight's
// Lambda middleware with a bare handler and with aws-xray-sdk-go's way of
// tracing in Lambda (a subsegment under the facade segment, begun and
// closed around the handler), in the same run. Run it with
//
//	cd peers && go test -run '^$' -bench . ./lambdabench
package lambdabench
