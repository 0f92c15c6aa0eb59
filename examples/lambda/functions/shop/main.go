// Command shop is the Lambda function of the Lambda debugging examples. It
// runs under the Lambda Runtime Interface Emulator behind the example's
// local API Gateway (go run ./examples/lambda), wrapped by
// middleware.Lambda.
//
// Each request path is /{scenario}/{variant}, variant "broken" or "fixed":
//
//	/coldstart/…    answer at once; the cost is in the initialisation (SHOP_INIT)
//	/timeout/…      call the inventory's slow endpoint (broken: without a deadline)
//	/panic/…        read the order in the body (broken: a nil pointer when there is none)
//	/error/…        look up a cart that does not exist (broken: return the error)
//	/propagation/…  ask the inventory for stock (broken: a client without Sidelight's RoundTripper)
//	/goroutine/…    write an audit record in a goroutine (broken: not waited for)
//
// Environment: SHOP_DOWNSTREAM is the inventory service's base URL;
// SHOP_INIT=serial loads the settings one after the other at start-up (the
// cold start's broken variant), anything else loads them concurrently.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/middleware"
)

var (
	downstream = strings.TrimSuffix(os.Getenv("SHOP_DOWNSTREAM"), "/")
	// traced records each call as a subsegment and passes the trace on.
	traced = &http.Client{Transport: middleware.Transport(nil)}
	// plain is what the broken propagation variant uses.
	plain  = &http.Client{}
	logger = slog.New(slog.NewTextHandler(os.Stderr, nil))

	// initTook is how long main spent before it could serve.
	initTook time.Duration
)

// settingNames are the settings loaded at start-up; each load stands for a
// Parameter Store or Secrets Manager read of about 300 ms.
var settingNames = []string{"db-url", "api-key", "feature-flags", "currency-rates"}

func loadSetting(name string) string {
	time.Sleep(300 * time.Millisecond)
	return name + "-value"
}

// loadSettings is the slow initialisation: serially (the broken variant)
// it costs the sum of the reads, concurrently the longest one.
func loadSettings(serial bool) map[string]string {
	out := make(map[string]string, len(settingNames))
	if serial {
		for _, n := range settingNames {
			out[n] = loadSetting(n)
		}
		return out
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range settingNames {
		wg.Go(func() {
			v := loadSetting(n)
			mu.Lock()
			out[n] = v
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func main() {
	start := time.Now()
	_ = loadSettings(os.Getenv("SHOP_INIT") == "serial")
	initTook = time.Since(start)
	// A wide margin, so that the timeout report beats the kill even on a
	// busy machine.
	lambda.Start(middleware.Lambda(handle, middleware.WithTimeoutMargin(500*time.Millisecond)))
}

type result struct {
	status int
	body   any
}

func handle(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	scenario, variant, _ := strings.Cut(strings.Trim(ev.Path, "/"), "/")
	fixed := variant == "fixed"
	first := !served.Swap(true)
	_ = middleware.AddAnnotation(ctx, "scenario", scenario)
	_ = middleware.AddAnnotation(ctx, "variant", variant)
	var r result
	var err error
	switch scenario {
	case "coldstart":
		r, err = coldStart(ctx, first)
	case "timeout":
		r, err = slowInventory(ctx, fixed)
	case "panic":
		r, err = placeOrder(ctx, ev.Body, fixed)
	case "error":
		r, err = loadCart(ctx, "c-404", fixed)
	case "propagation":
		r, err = stock(ctx, fixed)
	case "goroutine":
		r, err = checkout(ctx, fixed)
	default:
		r = result{http.StatusNotFound, map[string]string{"message": "no scenario " + scenario}}
	}
	if err != nil {
		// The broken variants end here: Lambda reports the error, and API
		// Gateway answers 502 without the CORS headers below.
		return events.APIGatewayProxyResponse{}, err
	}
	body, _ := json.Marshal(r.body)
	return events.APIGatewayProxyResponse{
		StatusCode: r.status,
		Headers: map[string]string{
			"Content-Type":                "application/json",
			"Access-Control-Allow-Origin": "*",
		},
		Body: string(body),
	}, nil
}

// served is set once the process has served an invocation.
var served atomic.Bool

// Scenario 1: the handler is fast; the cold start is not. The first
// invocation of a process reports how long main took before it.
func coldStart(ctx context.Context, first bool) (result, error) {
	ms := float64(initTook) / float64(time.Millisecond)
	if first {
		if err := middleware.AddMetric(ctx, "InitDuration", ms, emf.Milliseconds); err != nil {
			return result{}, err
		}
	}
	return result{http.StatusOK, map[string]any{"init_ms": int(ms)}}, nil
}

// Scenario 2: the inventory's slow endpoint answers after 10 s, well past
// the function's timeout.
func slowInventory(ctx context.Context, fixed bool) (result, error) {
	callCtx := context.WithoutCancel(ctx) // broken: "so that a client hanging up does not abort the call"
	if fixed {
		// Leave time to answer before Lambda stops the function.
		deadline, _ := ctx.Deadline()
		var cancel context.CancelFunc
		callCtx, cancel = context.WithDeadline(ctx, deadline.Add(-time.Second))
		defer cancel()
	}
	body, err := get(callCtx, traced, "/slow")
	if fixed && errors.Is(err, context.DeadlineExceeded) {
		_ = middleware.RecordError(ctx, err)
		return result{http.StatusGatewayTimeout, map[string]string{"message": "the inventory did not answer in time"}}, nil
	}
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, json.RawMessage(body)}, nil
}

// Order is what /panic expects in the request body.
type Order struct {
	Item     string `json:"item"`
	Quantity int    `json:"quantity"`
}

// Scenario 3: an empty body decodes into a nil *Order.
func placeOrder(ctx context.Context, body string, fixed bool) (result, error) {
	var order *Order
	if body != "" {
		if err := json.Unmarshal([]byte(body), &order); err != nil {
			return result{http.StatusBadRequest, map[string]string{"message": "the order is not JSON"}}, nil
		}
	}
	if fixed && order == nil {
		_ = middleware.AddAnnotation(ctx, "invalid_order", true)
		return result{http.StatusBadRequest, map[string]string{"message": "send an order: {\"item\":…,\"quantity\":…}"}}, nil
	}
	return result{http.StatusCreated, map[string]any{"item": order.Item, "quantity": order.Quantity}}, nil
}

// ErrCartNotFound is what the cart store returns for an unknown cart.
var ErrCartNotFound = errors.New("cart not found")

// Scenario 4: a lookup that fails.
func loadCart(ctx context.Context, id string, fixed bool) (result, error) {
	err := fmt.Errorf("load cart %s: %w", id, ErrCartNotFound)
	if !fixed {
		return result{}, err
	}
	// Answer the client, with CORS headers, and keep the cause in the trace.
	_ = middleware.RecordError(ctx, err)
	return result{http.StatusNotFound, map[string]string{"message": "cart " + id + " not found"}}, nil
}

// Scenario 5: what the inventory saw of the trace.
func stock(ctx context.Context, fixed bool) (result, error) {
	c := plain
	if fixed {
		c = traced
	}
	body, err := get(ctx, c, "/stock")
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, json.RawMessage(body)}, nil
}

// Scenario 6: the audit record is written in a goroutine.
func checkout(ctx context.Context, fixed bool) (result, error) {
	var wg sync.WaitGroup
	wg.Go(func() { audit(ctx) })
	if fixed {
		wg.Wait() // the invocation ends when its work has
	}
	return result{http.StatusOK, map[string]string{"order": "o-1", "status": "placed"}}, nil
}

func audit(ctx context.Context) {
	if _, err := get(ctx, traced, "/audit"); err != nil {
		logger.Error("audit record not written", "error", err)
		return
	}
	if err := middleware.AddMetric(ctx, "AuditWrites", 1, emf.Count); err != nil {
		logger.Error("audit metric lost", "error", err)
	}
}

func get(ctx context.Context, c *http.Client, path string) ([]byte, error) {
	if downstream == "" {
		return nil, errors.New("SHOP_DOWNSTREAM is not set")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, downstream+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("inventory %s: %s", path, resp.Status)
	}
	return body, nil
}
