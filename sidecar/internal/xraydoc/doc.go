// Package xraydoc checks X-Ray daemon datagrams and segment documents as
// the sidecar receives them, and can add ECS task metadata to a segment.
//
// A datagram is a header line, {"format": "json", "version": 1}, a newline
// and one segment or independent-subsegment document. Check accepts
// documents that X-Ray would plausibly accept and names the reason for
// everything it refuses; it does not enforce the whole schema.
package xraydoc
