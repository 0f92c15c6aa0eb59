package xray

import (
	"strings"
	"testing"
)

// BenchmarkParseHeaderHostile parses headers padded with unknown keys to
// the sizes a client can send: 8 KB (MaxHeaderLength), 16 KB (the ALB
// limit per header) and 256 KB (within Go's default 1 MiB header limit).
//
//	go test -run '^$' -bench ParseHeaderHostile -benchtime 10x ./exporter/xray
func BenchmarkParseHeaderHostile(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"8KB", 8 << 10}, {"16KB", 16 << 10}, {"256KB", 256 << 10}} {
		in := hostileHeader(size.n)
		b.Run(size.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				h, _ := ParseHeader(in)
				_ = h.String()
			}
		})
	}
}

// hostileHeader is a valid header padded with "x=y" pairs to n bytes.
func hostileHeader(n int) string {
	const head = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	var b strings.Builder
	b.WriteString(head)
	for b.Len()+4 <= n {
		b.WriteString(";x=y")
	}
	return b.String()
}
