// Package samplingproxy serves the X-Ray daemon's sampling endpoints on
// TCP (port 2000 by default), so X-Ray SDKs that fetch centralized
// sampling rules through the daemon keep working: POST /GetSamplingRules
// and POST /SamplingTargets are forwarded to X-Ray, SigV4-signed with the
// task's credentials. Nothing else is forwarded — it is not an open proxy.
//
// Contract: Start binds and serves in the background; Shutdown stops
// accepting and waits for requests in flight until ctx ends. Each
// forwarded request is bounded by Timeout.
package samplingproxy
