package sidecarcompat

import (
	"os"
	"testing"

	awsxray "github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/aws-xray-sdk-go/xraylog"
)

// TestMain quiets aws-xray-sdk-go's process-wide logger once, before any
// test starts the SDK's goroutines: the centralized sampling strategy's
// pollers run until the process exits (the SDK has no way to stop them)
// and read the logger, so setting it from a later test is a data race.
func TestMain(m *testing.M) {
	awsxray.SetLogger(xraylog.NullLogger)
	os.Exit(m.Run())
}
