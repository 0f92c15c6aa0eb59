package lambdaevent

import (
	"strconv"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/allocs"
)

// restEvent is an API Gateway REST event with n headers and n
// multi-value headers, and its trace header in an odd case, so that every
// lookup falls back to walking the maps.
func restEvent(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"httpMethod":"GET","path":"/x","requestContext":{"path":"/prod/x","identity":{"sourceIp":"203.0.113.5"}},"headers":{"X-AMZN-TRACE-ID":"Root=1-5759e988-bd862e3fe1be46a994272793"`)
	for i := range n {
		b.WriteString(`,"h` + strconv.Itoa(i) + `":"v"`)
	}
	b.WriteString(`},"multiValueHeaders":{"m":["a"]`)
	for i := range n {
		b.WriteString(`,"m` + strconv.Itoa(i) + `":["a","b"]`)
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

// Parsing an event with n headers does work linear in n: bytes allocated
// at n and 4n. (Maps and slices grow by doubling, so 4n may cost up to
// about 5 times n.)
func TestParseLinear(t *testing.T) {
	work := func(n int) uint64 {
		raw := restEvent(n)
		return allocs.Bytes(5, func() {
			req, ok := Parse(raw)
			if !ok || req.TraceHeader == "" {
				t.Fatalf("Parse: %+v %v", req, ok)
			}
		})
	}
	const n = 500
	atN, at4N := work(n), work(4*n)
	t.Logf("bytes allocated: %d at n=%d, %d at 4n", atN, n, at4N)
	if at4N > 6*atN {
		t.Fatalf("Parse allocates %d bytes for %d headers, %d for %d: super-linear", atN, n, at4N, 4*n)
	}
}

// The same for a handler's response with n headers.
func TestParseResponseLinear(t *testing.T) {
	work := func(n int) uint64 {
		var b strings.Builder
		b.WriteString(`{"statusCode":200,"headers":{"a":"b"`)
		for i := range n {
			b.WriteString(`,"h` + strconv.Itoa(i) + `":"v"`)
		}
		b.WriteString(`},"multiValueHeaders":{"ACCESS-CONTROL-ALLOW-ORIGIN":["*"]`)
		for i := range n {
			b.WriteString(`,"m` + strconv.Itoa(i) + `":["a","b"]`)
		}
		b.WriteString(`}}`)
		raw := []byte(b.String())
		return allocs.Bytes(5, func() {
			if r, ok := ParseResponse(raw); !ok || !r.CORS {
				t.Fatalf("ParseResponse: %+v %v", r, ok)
			}
		})
	}
	const n = 500
	atN, at4N := work(n), work(4*n)
	t.Logf("bytes allocated: %d at n=%d, %d at 4n", atN, n, at4N)
	if at4N > 6*atN {
		t.Fatalf("ParseResponse allocates %d bytes for %d headers, %d for %d: super-linear", atN, n, at4N, 4*n)
	}
}
