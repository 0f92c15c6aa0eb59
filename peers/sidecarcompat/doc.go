// Package sidecarcompat checks that applications instrumented with
// aws-xray-sdk-go work unchanged against the Sidelight sidecar: its real UDP
// emitter sends to the sidecar, which delivers every segment to X-Ray (a
// local stand-in that decodes the real API).
package sidecarcompat
