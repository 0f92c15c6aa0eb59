// Package demo generates real telemetry for local mode: two small services
// instrumented with Sidelight's middleware call each other and send their
// segments and metrics to the sidecar over the same UDP and TCP ports an
// application would use, and log records, each in the trace and span of
// the request that wrote it, over OTLP/HTTP as an OpenTelemetry SDK would.
// `sidecar -local -demo` runs it so that a newcomer sees traces, with their
// logs, in the web view within seconds.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// Config says where the demo sends its telemetry and how often it makes a
// request.
type Config struct {
	XRayAddr    string // the sidecar's X-Ray UDP address
	EMFEndpoint string // the sidecar's EMF endpoint, e.g. tcp://127.0.0.1:25888
	// OTLPEndpoint is the sidecar's OTLP/HTTP address as an SDK's
	// OTEL_EXPORTER_OTLP_ENDPOINT names it (http://127.0.0.1:4318); the
	// services' log records go to its /v1/logs. Empty: no log records.
	OTLPEndpoint string
	Interval     time.Duration // between requests (default 300 ms; 100 ms with Rollout)
	Logger       *slog.Logger

	// Rollout runs the shop service as two versions side by side, as a
	// canary deployment does: v1 alone for the first RolloutAfter
	// requests, then v1 and v2 taking turns. v2 is worse: it fails half
	// of the checkouts v1 completes (twice v1's fault rate on GET
	// /checkout) and is slower on GET /products/{id} for 30% of requests
	// (a slower p90 and p99). Each segment carries its version as
	// service.version (middleware.WithServiceVersion).
	Rollout      bool
	RolloutAfter int // default 60
}

// Versions of the shop service in a rollout.
const (
	RolloutBaseline  = "v1"
	RolloutCandidate = "v2"
)

// behaviour is how one version of the shop service behaves.
type behaviour struct {
	version          string
	checkoutFailRate float64 // share of otherwise good checkouts that fail with 500
	slowShare        float64 // share of product lookups delayed by 40 to 80 ms
}

// Run serves the demo services on loopback and sends requests to them
// until ctx ends. It returns the number of requests made.
func Run(ctx context.Context, cfg Config) (int, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 300 * time.Millisecond
		if cfg.Rollout {
			cfg.Interval = 100 * time.Millisecond
		}
	}
	if cfg.RolloutAfter <= 0 {
		cfg.RolloutAfter = 60
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	emitter, err := xray.NewEmitter(xray.WithDaemonAddress(cfg.XRayAddr))
	if err != nil {
		return 0, err
	}
	defer emitter.Shutdown(context.Background())
	sink, err := emf.NewAgentSink(cfg.EMFEndpoint)
	if err != nil {
		return 0, err
	}
	defer sink.Shutdown(context.Background())
	everything, err := sampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))
	if err != nil {
		return 0, err
	}

	var logs *logSender
	if cfg.OTLPEndpoint != "" {
		logs = newLogSender(cfg.OTLPEndpoint, cfg.Logger)
		// Deferred before the servers' stop, so it runs after it: the
		// records of the last requests are sent too.
		defer func() {
			if n := logs.close(); n > 0 {
				cfg.Logger.Warn("demo log records dropped: the queue was full", "records", n)
			}
		}()
	}

	inventoryURL := make(chan string, 2)
	kit, err := middleware.New(middleware.WithSegmentExporter(emitter), middleware.WithSamplingRules(everything),
		middleware.WithMetricsSink(sink), middleware.WithMetricsNamespace("SidelightDemo"), middleware.WithMetricsInterval(5*time.Second))
	if err != nil {
		return 0, err
	}
	defer kit.Shutdown(context.Background())

	client := &http.Client{Transport: kit.Transport(nil), Timeout: 5 * time.Second}
	shopStack := func(b behaviour) http.Handler {
		opts := []middleware.Option{middleware.WithServiceName("shop")}
		if b.version != "" {
			opts = append(opts, middleware.WithServiceVersion(b.version))
		}
		return kit.HTTP(opts...)(shopRoutes(client, inventoryURL, b, logs))
	}
	var shop, shopV2 http.Handler
	if cfg.Rollout {
		shop = shopStack(behaviour{version: RolloutBaseline})
		shopV2 = shopStack(behaviour{version: RolloutCandidate, checkoutFailRate: 0.5, slowShare: 0.3})
	} else {
		shop = shopStack(behaviour{})
	}
	inventory := kit.HTTP(middleware.WithServiceName("inventory"))(inventoryRoutes(logs))

	var wg sync.WaitGroup
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
		wg.Wait()
	}()
	shopAddr, stopShop, err := serve(shop, &wg)
	if err != nil {
		return 0, err
	}
	stops = append(stops, stopShop)
	shopV2Addr := ""
	if shopV2 != nil {
		addr, stopV2, err := serve(shopV2, &wg)
		if err != nil {
			return 0, err
		}
		stops = append(stops, stopV2)
		shopV2Addr = addr
	}
	invAddr, stopInv, err := serve(inventory, &wg)
	if err != nil {
		return 0, err
	}
	stops = append(stops, stopInv)
	inventoryURL <- "http://" + invAddr
	inventoryURL <- "http://" + invAddr // each shop version reads it once

	cfg.Logger.Info("demo services running", "shop", "http://"+shopAddr, "inventory", "http://"+invAddr)
	paths := []string{"/products/42", "/checkout", "/products/7", "/checkout?card=declined", "/products/unknown", "/search?q=lamp", "/checkout"}
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	n := 0
	for {
		target := shopAddr
		if shopV2Addr != "" && n >= cfg.RolloutAfter && n%2 == 1 {
			target = shopV2Addr
			if n == cfg.RolloutAfter+1 {
				cfg.Logger.Info("demo rollout: shop v2 now takes half of the requests", "v2", "http://"+shopV2Addr)
			}
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+target+paths[n%len(paths)], nil)
		if n%5 == 4 {
			// A browser on another origin: the verdict shows in the view.
			req.Header.Set("Origin", "http://localhost:3000")
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		n++
		select {
		case <-ctx.Done():
			_ = kit.ForceFlush(context.Background())
			return n, nil
		case <-tick.C:
		}
	}
}

func serve(h http.Handler, wg *sync.WaitGroup) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = srv.Serve(ln)
	}()
	stop := func() {
		// A request the loop gave up on when ctx ended may still be in
		// its handler: let it finish, so its segment and log records
		// are sent, for a little while.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
	}
	return ln.Addr().String(), stop, nil
}

// Severities of the demo's log records.
const (
	debug = logspb.SeverityNumber_SEVERITY_NUMBER_DEBUG
	info  = logspb.SeverityNumber_SEVERITY_NUMBER_INFO
	warn  = logspb.SeverityNumber_SEVERITY_NUMBER_WARN
	errs  = logspb.SeverityNumber_SEVERITY_NUMBER_ERROR
)

func shopRoutes(client *http.Client, inventoryURL <-chan string, b behaviour, logs *logSender) http.Handler {
	log := func(r *http.Request, sev logspb.SeverityNumber, body string, attrs ...*commonpb.KeyValue) {
		logs.emit(r.Context(), "shop", sev, body, attrs...)
	}
	var inv string
	var once sync.Once
	base := func() string {
		once.Do(func() { inv = <-inventoryURL })
		return inv
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		if b.slowShare > 0 && rand.Float64() < b.slowShare {
			time.Sleep(time.Duration(40+rand.IntN(40)) * time.Millisecond) // v2's slow path
		}
		log(r, info, "product page requested", str("product.id", r.PathValue("id")))
		resp, err := get(r.Context(), client, base()+"/stock/"+r.PathValue("id"))
		if err != nil {
			middleware.RecordError(r.Context(), err)
			log(r, errs, "inventory unavailable: "+err.Error(), str("product.id", r.PathValue("id")))
			http.Error(w, "inventory unavailable", http.StatusBadGateway)
			return
		}
		if resp == http.StatusNotFound {
			log(r, warn, "no such product", str("product.id", r.PathValue("id")), num("http.response.status_code", http.StatusNotFound))
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	mux.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
		tier := []string{"free", "pro"}[rand.IntN(2)]
		middleware.AddAnnotation(r.Context(), "customer_tier", tier)
		log(r, info, "checkout started", str("customer.tier", tier))
		time.Sleep(time.Duration(5+rand.IntN(40)) * time.Millisecond)
		if r.URL.Query().Get("card") == "declined" {
			err := errors.New("payment declined by the card issuer")
			middleware.RecordError(r.Context(), err)
			log(r, errs, "checkout failed: "+err.Error(), str("payment.card", "declined"), num("http.response.status_code", http.StatusInternalServerError))
			http.Error(w, "payment failed", http.StatusInternalServerError)
			return
		}
		if b.checkoutFailRate > 0 && rand.Float64() < b.checkoutFailRate {
			err := errors.New("v2: order store timeout")
			middleware.RecordError(r.Context(), err)
			log(r, errs, "checkout failed: "+err.Error(), str("service.version", b.version), num("http.response.status_code", http.StatusInternalServerError))
			http.Error(w, "checkout failed", http.StatusInternalServerError)
			return
		}
		if _, err := get(r.Context(), client, base()+"/reserve"); err != nil {
			log(r, errs, "stock reservation failed: "+err.Error())
			http.Error(w, "reserve failed", http.StatusBadGateway)
			return
		}
		log(r, info, "order placed", str("customer.tier", tier))
		w.Header().Set("Access-Control-Allow-Origin", "http://localhost:3000")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /search", func(w http.ResponseWriter, r *http.Request) {
		// A rate limiter in front of search.
		log(r, warn, "search throttled: over 5 requests a second", str("search.query", r.URL.Query().Get("q")), num("http.response.status_code", http.StatusTooManyRequests))
		w.WriteHeader(http.StatusTooManyRequests)
	})
	return mux
}

func inventoryRoutes(logs *logSender) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stock/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "unknown" {
			logs.emit(r.Context(), "inventory", warn, "stock lookup for an unknown product", str("product.id", r.PathValue("id")))
			http.NotFound(w, r)
			return
		}
		time.Sleep(time.Duration(1+rand.IntN(10)) * time.Millisecond)
		logs.emit(r.Context(), "inventory", debug, "stock lookup", str("product.id", r.PathValue("id")), num("stock.available", int64(3+rand.IntN(40))))
		io.WriteString(w, `{"in_stock":true}`)
	})
	mux.HandleFunc("GET /reserve", func(w http.ResponseWriter, r *http.Request) {
		logs.emit(r.Context(), "inventory", info, "stock reserved")
		io.WriteString(w, "reserved")
	})
	return mux
}

func get(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return resp.StatusCode, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return resp.StatusCode, nil
}
