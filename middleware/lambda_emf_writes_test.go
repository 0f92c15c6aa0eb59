package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

// writeCounter records each Write call it gets.
type writeCounter struct {
	mu     sync.Mutex
	writes [][]byte
}

func (c *writeCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, bytes.Clone(p))
	c.mu.Unlock()
	return len(p), nil
}

func (c *writeCounter) take() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writes
	c.writes = nil
	return w
}

// lines decodes the newline-ended JSON documents of one write.
func lines(t *testing.T, p []byte) []map[string]any {
	t.Helper()
	if !bytes.HasSuffix(p, []byte("\n")) {
		t.Fatalf("write %q does not end with a newline", p)
	}
	var docs []map[string]any
	for _, l := range bytes.Split(bytes.TrimSuffix(p, []byte("\n")), []byte("\n")) {
		var d map[string]any
		if err := json.Unmarshal(l, &d); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		docs = append(docs, d)
	}
	return docs
}

// TestLambdaColdStartOneWrite: a cold start's two EMF documents (the
// ColdStart document and the invocation's) go to standard output in one
// write, whether the handler returns or the timeout report goes out; a
// warm invocation writes its one document once.
func TestLambdaColdStartOneWrite(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout bool
	}{{"handler returns", false}, {"timeout report", true}} {
		t.Run(tc.name, func(t *testing.T) {
			out := &writeCounter{}
			k, err := New(WithSegmentExporter(xraytest.NewRecorder()), WithServiceName("orders"), WithSamplingRules(always(t)),
				WithMetricsSink(emf.NewWriterSink(out)), WithTimeoutMargin(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = k.Shutdown(context.Background()) })
			release := make(chan struct{})
			h := Lambda(func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
				if tc.timeout {
					<-release // until the timeout report went out
				}
				return events.APIGatewayProxyResponse{StatusCode: 200}, nil
			}, WithKit(k))
			timeout := time.Minute
			if tc.timeout {
				timeout = 200 * time.Millisecond // reported halfway: the margin is longer
			}
			done := make(chan error, 1)
			go func() {
				_, err := h(invokeCtx(t, facadeHeader, timeout), restEvent("/orders", ""))
				done <- err
			}()
			if tc.timeout {
				deadline := time.Now().Add(10 * time.Second)
				for {
					out.mu.Lock()
					n := len(out.writes)
					out.mu.Unlock()
					if n > 0 || time.Now().After(deadline) {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				close(release)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			writes := out.take()
			if len(writes) != 1 {
				t.Fatalf("cold start: %d writes, want 1: %q", len(writes), writes)
			}
			docs := lines(t, writes[0])
			if len(docs) != 2 {
				t.Fatalf("cold start write holds %d documents, want 2: %q", len(docs), writes[0])
			}
			if docs[0]["ColdStart"] != 1.0 || docs[0][FunctionNameDimension] == nil || docs[0]["Service"] != "orders" {
				t.Errorf("ColdStart document: %v", docs[0])
			}
			wantTimeout := b2f(tc.timeout)
			if docs[1]["function_request_id"] != "req-"+t.Name() || docs[1]["ColdStart"] != 1.0 || docs[1]["Timeout"] != wantTimeout {
				t.Errorf("invocation document: %v", docs[1])
			}

			// Warm: one write of one document.
			if _, err := Lambda(func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
				return events.APIGatewayProxyResponse{StatusCode: 200}, nil
			}, WithKit(k))(invokeCtx(t, facadeHeader, time.Minute), restEvent("/orders", "")); err != nil {
				t.Fatal(err)
			}
			writes = out.take()
			if len(writes) != 1 || len(lines(t, writes[0])) != 1 || lines(t, writes[0])[0]["ColdStart"] != 0.0 {
				t.Fatalf("warm invocation: writes %q, want one of one warm document", writes)
			}
		})
	}
}
