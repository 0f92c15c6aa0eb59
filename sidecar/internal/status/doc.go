// Package status holds the sidecar's own counters (received, sent, retried,
// dropped and rejected, by reason) and serves them, with a health check, on
// a small HTTP endpoint:
//
//	GET /healthz  200 "ok" while running, 503 once shutting down or unhealthy
//	GET /status   JSON: {"counters":{...},"info":{...}}
//
// Probe is what the `sidecar health` subcommand runs as the ECS container
// healthCheck.
package status
