package lambdatest

import (
	"context"
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// WaitDocument waits up to Timeout for a document the daemon received for
// which match is true, and checks it against the X-Ray segment schema;
// what names the document in the failure.
func WaitDocument(t testing.TB, d *xraytest.Daemon, what string, match func(xraytest.Segment) bool) xraytest.Segment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	for n := 1; ; {
		docs, err := d.WaitFor(ctx, n)
		if err != nil {
			all, _ := d.Documents()
			t.Fatalf("no %s (%v) among %d documents", what, err, len(all))
		}
		for _, doc := range docs {
			if match(doc) {
				if err := schematest.Segment(doc.Raw); err != nil {
					t.Fatalf("schema: %v\n%s", err, doc.Raw)
				}
				return doc
			}
		}
		n = len(docs) + 1
	}
}
