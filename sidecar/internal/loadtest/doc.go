// Package loadtest runs the sidecar binary as a separate process against
// fake AWS APIs and measures it from outside: datagrams sent and
// delivered, CPU time (utime+stime from /proc/<pid>/stat) and peak RSS
// (VmHWM from /proc/<pid>/status). The segments go one per datagram, the
// way the X-Ray SDKs send them, or through Sidelight's own emitter
// (Options.Emitter). With Options.Daemon the same segment load measures
// an AWS X-Ray daemon binary instead, for a side-by-side ratio.
//
// The cmd/sidelight-load command runs the full-size measurement (and,
// with -peer-daemon, the daemon first); cmd/udp-floor measures what the
// kernel alone charges for receiving the datagrams. The package tests run
// small loads with zero-loss assertions, and the SIGTERM test.
package loadtest
