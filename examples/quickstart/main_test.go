package main

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// The README's first command runs this program; check that it prints one
// valid segment per request, faults and errors included.
func TestQuickstartPrintsSegments(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, []string{"-addr", "127.0.0.1:0", "-requests", "5", "-interval", "10ms"}, &syncWriter{w: &out}); err != nil {
		t.Fatal(err)
	}
	var docs []string
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if doc, ok := strings.CutPrefix(sc.Text(), "segment: "); ok {
			docs = append(docs, doc)
		}
	}
	// /checkout's downstream call to /inventory is a request too.
	if len(docs) != 6 {
		t.Fatalf("printed %d segments, want 6:\n%s", len(docs), out.String())
	}
	var fault, teapot, remote bool
	for _, d := range docs {
		if err := schematest.Segment([]byte(d)); err != nil {
			t.Errorf("schema: %v\n%s", err, d)
		}
		fault = fault || strings.Contains(d, `"fault":true`) && strings.Contains(d, "payment provider unavailable")
		teapot = teapot || strings.Contains(d, `"status":418`) && strings.Contains(d, `"error":true`)
		remote = remote || strings.Contains(d, `"namespace":"remote"`)
	}
	if !fault || !teapot || !remote {
		t.Errorf("fault %v, 4xx %v, remote subsegment %v:\n%s", fault, teapot, remote, out.String())
	}
}
