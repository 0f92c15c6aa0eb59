// Package demo generates real telemetry for local mode: two small services
// instrumented with Sidelight's middleware call each other and send their
// segments and metrics to the sidecar over the same UDP and TCP ports an
// application would use. `sidecar -local -demo` runs it so that a newcomer
// sees traces in the web view within seconds.
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

	"github.com/seed-c77c9410/sidelight/exporter/emf"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

// Config says where the demo sends its telemetry and how often it makes a
// request.
type Config struct {
	XRayAddr    string        // the sidecar's X-Ray UDP address
	EMFEndpoint string        // the sidecar's EMF endpoint, e.g. tcp://127.0.0.1:25888
	Interval    time.Duration // between requests (default 300 ms)
	Logger      *slog.Logger
}

// Run serves the demo services on loopback and sends requests to them
// until ctx ends. It returns the number of requests made.
func Run(ctx context.Context, cfg Config) (int, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 300 * time.Millisecond
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

	inventoryURL := make(chan string, 1)
	kit, err := middleware.New(middleware.WithSegmentExporter(emitter), middleware.WithSamplingRules(everything),
		middleware.WithMetricsSink(sink), middleware.WithMetricsNamespace("SidelightDemo"), middleware.WithMetricsInterval(5*time.Second))
	if err != nil {
		return 0, err
	}
	defer kit.Shutdown(context.Background())

	client := &http.Client{Transport: kit.Transport(nil), Timeout: 5 * time.Second}
	shop := kit.HTTP(middleware.WithServiceName("shop"))(shopRoutes(client, inventoryURL))
	inventory := kit.HTTP(middleware.WithServiceName("inventory"))(inventoryRoutes())

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
	invAddr, stopInv, err := serve(inventory, &wg)
	if err != nil {
		return 0, err
	}
	stops = append(stops, stopInv)
	inventoryURL <- "http://" + invAddr

	cfg.Logger.Info("demo services running", "shop", "http://"+shopAddr, "inventory", "http://"+invAddr)
	paths := []string{"/products/42", "/checkout", "/products/7", "/checkout?card=declined", "/products/unknown", "/search?q=lamp", "/checkout"}
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	n := 0
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+shopAddr+paths[n%len(paths)], nil)
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
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}

func shopRoutes(client *http.Client, inventoryURL <-chan string) http.Handler {
	var inv string
	var once sync.Once
	base := func() string {
		once.Do(func() { inv = <-inventoryURL })
		return inv
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		resp, err := get(r.Context(), client, base()+"/stock/"+r.PathValue("id"))
		if err != nil {
			middleware.RecordError(r.Context(), err)
			http.Error(w, "inventory unavailable", http.StatusBadGateway)
			return
		}
		if resp == http.StatusNotFound {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	mux.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
		middleware.AddAnnotation(r.Context(), "customer_tier", []string{"free", "pro"}[rand.IntN(2)])
		time.Sleep(time.Duration(5+rand.IntN(40)) * time.Millisecond)
		if r.URL.Query().Get("card") == "declined" {
			middleware.RecordError(r.Context(), errors.New("payment declined by the card issuer"))
			http.Error(w, "payment failed", http.StatusInternalServerError)
			return
		}
		if _, err := get(r.Context(), client, base()+"/reserve"); err != nil {
			http.Error(w, "reserve failed", http.StatusBadGateway)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "http://localhost:3000")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /search", func(w http.ResponseWriter, r *http.Request) {
		// A rate limiter in front of search.
		w.WriteHeader(http.StatusTooManyRequests)
	})
	return mux
}

func inventoryRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stock/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "unknown" {
			http.NotFound(w, r)
			return
		}
		time.Sleep(time.Duration(1+rand.IntN(10)) * time.Millisecond)
		io.WriteString(w, `{"in_stock":true}`)
	})
	mux.HandleFunc("GET /reserve", func(w http.ResponseWriter, r *http.Request) {
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
