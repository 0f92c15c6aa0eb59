// Package loadtest runs the sidecar binary as a separate process against
// fake AWS APIs and measures it from outside: datagrams sent and
// delivered, CPU time (utime+stime from /proc/<pid>/stat) and peak RSS
// (VmHWM from /proc/<pid>/status). The cmd/sidelight-load command runs
// the full-size measurement; the package tests run a small one with a
// zero-loss assertion, and the SIGTERM test.
package loadtest
