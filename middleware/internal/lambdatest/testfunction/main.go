// Command testfunction is a Lambda function for the lambdatest tests. What
// an invocation does depends on the path of its API Gateway event:
//
//	/ok      annotate, count a metric, call SIDELIGHT_TEST_DOWNSTREAM, answer 200 with CORS headers
//	/error   return an error
//	/panic   panic
//	/sleep   ignore the deadline and sleep for a minute
//	/fail    answer 503
//
// With SIDELIGHT_TEST_FORM=handler it uses the lambda.Handler form and
// answers with raw JSON; with SIDELIGHT_TEST_FORM=url it serves a function
// URL in response-streaming mode (middleware.LambdaURL) with stream; with
// SIDELIGHT_TEST_FORM=bare it runs without the
// middleware (only /fail works then). SIDELIGHT_TEST_TIMEOUT_MARGIN sets
// WithTimeoutMargin.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// OrderError is the error /error returns, so that tests can see its type.
type OrderError struct{ ID int }

func (e *OrderError) Error() string { return fmt.Sprintf("order %d not found", e.ID) }

var client = &http.Client{Transport: middleware.Transport(nil)}

func handle(ctx context.Context, path string) (int, map[string]string, error) {
	switch path {
	case "/ok":
		if err := middleware.AddAnnotation(ctx, "order", 42); err != nil {
			return 0, nil, err
		}
		if err := middleware.AddMetadata(ctx, "cart", map[string]int{"items": 3}); err != nil {
			return 0, nil, err
		}
		if err := middleware.AddMetric(ctx, "Orders", 1, emf.Count); err != nil {
			return 0, nil, err
		}
		if url := os.Getenv("SIDELIGHT_TEST_DOWNSTREAM"); url != "" {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := client.Do(req)
			if err != nil {
				return 0, nil, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return 200, map[string]string{"Access-Control-Allow-Origin": "*"}, nil
	case "/error":
		return 0, nil, fmt.Errorf("checkout: %w", &OrderError{ID: 7})
	case "/panic":
		var m map[string]int
		m["boom"]++ // assignment to entry in nil map
	case "/sleep":
		time.Sleep(time.Minute)
	case "/fail":
		return 503, nil, nil
	}
	return 404, nil, errors.New("unknown path " + path)
}

func typed(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	status, headers, err := handle(ctx, ev.Path)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: "done"}, nil
}

// StreamChunks is how many chunks stream writes: "chunk i of N;" for
// i below StreamChunks, N the query's n.
const StreamChunks = 200

// stream is the response-streaming handler of SIDELIGHT_TEST_FORM=url: it
// annotates, counts a metric, then writes 201 and StreamChunks chunks.
func stream(w http.ResponseWriter, r *http.Request) {
	n := r.URL.Query().Get("n")
	if err := middleware.AddAnnotation(r.Context(), "n", n); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := middleware.AddMetric(r.Context(), "Chunks", StreamChunks, emf.Count); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusCreated)
	for i := range StreamChunks {
		fmt.Fprintf(w, "chunk %d of %s;", i, n)
	}
}

type raw struct{}

func (raw) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	resp, err := typed(ctx, ev)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

func main() {
	if os.Getenv("SIDELIGHT_TEST_PRINT_ENV") != "" {
		fmt.Println("env AWS_XRAY_DAEMON_ADDRESS=" + os.Getenv("AWS_XRAY_DAEMON_ADDRESS"))
	}
	var opts []middleware.Option
	if m, err := time.ParseDuration(os.Getenv("SIDELIGHT_TEST_TIMEOUT_MARGIN")); err == nil {
		opts = append(opts, middleware.WithTimeoutMargin(m))
	}
	switch os.Getenv("SIDELIGHT_TEST_FORM") {
	case "handler":
		lambda.StartHandler(middleware.LambdaHandler(raw{}, opts...))
		return
	case "url":
		lambda.Start(middleware.LambdaURL(http.HandlerFunc(stream), opts...))
		return
	case "bare": // no middleware, to measure what it adds to a cold start
		lambda.Start(typed)
		return
	}
	lambda.Start(middleware.Lambda(typed, opts...))
}
