package xrayput_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/xray"
)

// TestBodyKeptUntilWritten: a server that answers before reading the
// body, then reads it (full duplex), sees every request's own bytes,
// while requests run concurrently and the client has long returned: a
// pooled body buffer is not reused while the transport still writes it.
// (Each request's documents are one letter repeated; a buffer reused too
// early shows another letter: 30 of 40 bodies did with the buffer
// released as soon as Do returned, without -race.)
func TestBodyKeptUntilWritten(t *testing.T) {
	var mixed, early atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		w.Header().Set("X-Amzn-Errortype", "InvalidRequestException")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"message":"answered early"}`)
		_ = http.NewResponseController(w).Flush()
		early.Add(1)
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			return // the client gave up on the write: nothing to compare
		}
		var in struct{ TraceSegmentDocuments []string }
		if json.Unmarshal(raw, &in) != nil || len(in.TraceSegmentDocuments) == 0 {
			mixed.Add(1)
			return
		}
		letter := in.TraceSegmentDocuments[0][:1]
		for _, d := range in.TraceSegmentDocuments {
			if strings.Trim(d, letter) != "" {
				mixed.Add(1)
			}
		}
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_XRAY", srv.URL)
	_, cfg := sdkClient(t, false)
	direct := directClient(t, cfg, func(o *xray.Options) { o.HTTPClient = srv.Client() })
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				letter := string(rune('a' + (g*10+i)%26))
				docs := make([]string, 50)
				for j := range docs {
					docs[j] = strings.Repeat(letter, 4000)
				}
				_, err := direct.PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs})
				if err == nil || !strings.Contains(err.Error(), "answered early") {
					t.Errorf("got %v, want the early answer", err)
				}
			}
		})
	}
	wg.Wait()
	srv.CloseClientConnections()
	if mixed.Load() != 0 || early.Load() == 0 {
		t.Fatalf("%d of %d bodies held another request's bytes", mixed.Load(), early.Load())
	}
}
