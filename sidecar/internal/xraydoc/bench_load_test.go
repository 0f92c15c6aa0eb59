package xraydoc_test

import (
	"testing"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/xraydoc"
)

func BenchmarkCheckLoadDoc(b *testing.B) {
	doc := []byte(`{"trace_id":"1-6553f100-000000000000000000000001","id":"0000000000000002","name":"checkout","start_time":1700000000.123,"end_time":1700000000.456,"http":{"request":{"method":"GET","url":"http://checkout.local/cart/42","client_ip":"10.0.0.8"},"response":{"status":200,"content_length":512}},"aws":{"xray":{"sdk":"X-Ray for Go","sdk_version":"1.8.5"}},"annotations":{"route":"/cart/{id}"}}`)
	b.ReportAllocs()
	for b.Loop() {
		xraydoc.Check(doc)
	}
}
