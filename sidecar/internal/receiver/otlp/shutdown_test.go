package otlp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	statuspkg "github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

// inFlight starts one HTTP and one gRPC export against r and returns
// their results: the HTTP status (or -1 on a transport error) and the
// gRPC error.
func inFlight(t *testing.T, r *Receiver, transports ...string) (httpCode chan int, grpcErr chan error) {
	if len(transports) == 0 {
		transports = []string{"http", "grpc"}
	}
	httpCode, grpcErr = make(chan int, 1), make(chan error, 1)
	body := mustProto(t, traceRequest(2, 1))
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	if slices.Contains(transports, "http") {
		go func() {
			resp, err := (&http.Client{Transport: tr}).Post("http://"+r.HTTPAddr().String()+PathTraces, mediaProto, bytes.NewReader(body))
			if err != nil {
				httpCode <- -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			httpCode <- resp.StatusCode
		}()
	}
	if !slices.Contains(transports, "grpc") {
		return httpCode, grpcErr
	}
	conn, err := grpc.NewClient(r.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		_, err := coltracepb.NewTraceServiceClient(conn).Export(context.Background(), traceRequest(2, 1))
		grpcErr <- err
	}()
	return httpCode, grpcErr
}

func newStarted(t *testing.T, rec *recorder) *Receiver {
	r, err := New(Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", Consumer: rec, Counters: statuspkg.NewCounters()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestShutdownDeliversInFlight: requests accepted before Shutdown are
// delivered and answered; new connections are refused meanwhile.
func TestShutdownDeliversInFlight(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan struct{}, 2)}
	r := newStarted(t, rec)
	httpAddr := r.HTTPAddr().String()
	httpCode, grpcErr := inFlight(t, r)
	<-rec.entered
	<-rec.entered // both are inside the Consumer
	done := make(chan error, 1)
	go func() { done <- r.Shutdown(context.Background()) }()
	// The listener closes while the two requests wait.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", httpAddr, time.Second)
		if err != nil {
			break
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting during Shutdown")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with requests in flight", err)
	default:
	}
	close(rec.gate)
	if code := <-httpCode; code != 200 {
		t.Errorf("HTTP in flight: %d, want 200", code)
	}
	if err := <-grpcErr; err != nil {
		t.Errorf("gRPC in flight: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if n := len(rec.spans()); n != 4 {
		t.Errorf("%d spans delivered, want 4", n)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestShutdownDeadline: when Shutdown's context ends before a stuck
// Consumer returns, requests are cancelled (the Consumer sees it and
// keeps nothing), clients get a retryable answer or none, and Shutdown
// returns the context's error after every handler has returned. Each
// transport alone, so one's wait cannot hide the other's.
func TestShutdownDeadline(t *testing.T) {
	for _, transport := range []string{"http", "grpc"} {
		t.Run(transport, func(t *testing.T) {
			rec := &recorder{gate: make(chan struct{}), entered: make(chan struct{}, 2), lag: 50 * time.Millisecond}
			r := newStarted(t, rec)
			httpCode, grpcErr := inFlight(t, r, transport)
			<-rec.entered
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if err := r.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Shutdown: %v, want deadline exceeded", err)
			}
			if n := rec.active.Load(); n != 0 {
				t.Errorf("%d Consumer calls still running after Shutdown returned", n)
			}
			if transport == "http" {
				if code := <-httpCode; code != -1 && code != 503 {
					t.Errorf("HTTP: %d, want no answer (client resends) or 503", code)
				}
			} else if c := status.Code(<-grpcErr); c != codes.Unavailable && c != codes.Canceled {
				t.Errorf("gRPC: %v, want a retryable code", c)
			}
			if n := len(rec.spans()); n != 0 {
				t.Errorf("%d spans kept from cancelled requests", n)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r, err := New(Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: ln.Addr().String(), Consumer: &recorder{}, Counters: statuspkg.NewCounters()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err == nil {
		t.Fatal("Start on a used port: want error")
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after failed Start: %v", err)
	}
	off, err := New(Config{HTTPAddr: "off", GRPCAddr: "off", Consumer: &recorder{}, Counters: statuspkg.NewCounters()})
	if err != nil {
		t.Fatal(err)
	}
	if err := off.Start(context.Background()); err != nil || off.HTTPAddr() != nil || off.GRPCAddr() != nil {
		t.Errorf("both off: %v %v %v", err, off.HTTPAddr(), off.GRPCAddr())
	}
	if err := off.Start(context.Background()); err == nil {
		t.Error("second Start: want error")
	}
	_ = off.Shutdown(context.Background())
}
