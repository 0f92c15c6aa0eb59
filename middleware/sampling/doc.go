// Package sampling decides which requests are traced, with X-Ray's local
// sampling rules: each rule matches requests by host (or service name),
// HTTP method and URL path, and samples a fixed number of requests each
// second (the reservoir) plus a fixed rate of the rest. Requests no rule
// matches fall to the default rule, which by default samples one request a
// second and 5 % of the rest, as the X-Ray SDKs do.
//
// Rules use the JSON documents of the X-Ray SDKs, version 2 (with "host")
// or version 1 (with "service_name"):
//
//	{"version": 2,
//	 "rules": [{"description": "health checks", "host": "*", "http_method": "GET",
//	            "url_path": "/healthz", "fixed_target": 0, "rate": 0}],
//	 "default": {"fixed_target": 1, "rate": 0.05}}
//
// [Daemon] takes the rules from the X-Ray daemon's sampling API instead
// (the Sidelight sidecar forwards X-Ray's centralized rules, and in local
// mode answers with one rule that samples every request); it is the HTTP
// middleware's default.
package sampling
