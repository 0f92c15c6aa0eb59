package lambdatest_test

import (
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/lambdatest"
)

// startEmulator runs the test function under the emulator as orders-fn,
// with a two-second timeout and its metrics in the SidelightTest
// namespace; env comes after these and may override them.
func startEmulator(t *testing.T, env ...string) *lambdatest.Emulator {
	t.Helper()
	env = append([]string{
		"AWS_LAMBDA_FUNCTION_NAME=orders-fn",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=2",
		"POWERTOOLS_SERVICE_NAME=orders",
		"AWS_EMF_NAMESPACE=SidelightTest",
		"LOG_LEVEL=error",
	}, env...)
	return lambdatest.StartEmulator(t, functionBinary, env...)
}

// waitSubsegment waits for the subsegment whose parent is parent, checked
// against the X-Ray schema.
func waitSubsegment(t *testing.T, d *xraytest.Daemon, parent string) xraytest.Segment {
	t.Helper()
	return lambdatest.WaitDocument(t, d, "subsegment with parent "+parent, func(doc xraytest.Segment) bool {
		return doc.ParentID == parent && doc.Type == "subsegment"
	})
}
