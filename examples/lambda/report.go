package main

import (
	"strconv"
	"strings"
)

// The emulator prints REPORT lines like Lambda's, but its Init Duration is
// not the function's initialisation time, and it has no X-Ray fields. Its
// own log says how long the initialisation took:
//
//	… [INFO] (rapid) INIT REPORT(durationMs: 1203.412000)

const initReportMarker = "INIT REPORT(durationMs: "

// initReport returns the initialisation time, in milliseconds with two
// decimals, of an emulator log line that reports one.
func initReport(line string) (string, bool) {
	i := strings.Index(line, initReportMarker)
	if i < 0 {
		return "", false
	}
	rest := line[i+len(initReportMarker):]
	j := strings.IndexByte(rest, ')')
	if j < 0 {
		return "", false
	}
	ms, err := strconv.ParseFloat(rest[:j], 64)
	if err != nil || ms < 0 || ms > 1e7 {
		return "", false
	}
	return strconv.FormatFloat(ms, 'f', 2, 64), true
}

// reportRequestID returns the request ID of a REPORT line.
func reportRequestID(line string) string {
	const key = "RequestId: "
	i := strings.Index(line, key)
	if i < 0 {
		return ""
	}
	id := line[i+len(key):]
	if j := strings.IndexAny(id, "\t "); j >= 0 {
		id = id[:j]
	}
	return id
}

// rewriteReport returns a REPORT line with Lambda's layout (tab-separated
// fields, Init Duration on cold starts only, then the X-Ray fields): the
// emulator's Init Duration is dropped, initMs (when not empty) is put in
// its place, and traceID (when not empty) is added as Lambda does for
// traced invocations.
func rewriteReport(line, initMs, traceID string) string {
	fields := strings.Split(strings.TrimRight(line, "\t \r"), "\t")
	out := make([]string, 0, len(fields)+2)
	for _, f := range fields {
		// The emulator's own Init Duration is replaced below; a field that
		// merely contains the label (a garbled line) goes too, so the
		// rewritten line never carries two.
		if strings.Contains(f, "Init Duration:") {
			continue
		}
		out = append(out, f)
	}
	if initMs != "" {
		out = append(out, "Init Duration: "+initMs+" ms")
	}
	if traceID != "" {
		out = append(out, "XRAY TraceId: "+traceID, "Sampled: true")
	}
	return strings.Join(out, "\t") + "\t"
}
