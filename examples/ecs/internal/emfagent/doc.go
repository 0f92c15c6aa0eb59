// Package emfagent is a stand-in for the sidecar's EMF port in the ECS
// example's tests: it accepts TCP connections on a loopback port, reads
// newline-delimited EMF documents and keeps them for assertions.
package emfagent
