// Command quickstart is a small service instrumented with Sidelight. It
// serves a few routes, calls itself to make traffic, and prints every X-Ray
// segment it emits, so you can see what Sidelight records without an AWS
// account:
//
//	go run ./examples/quickstart              # runs until Ctrl-C
//	go run ./examples/quickstart -requests 8  # sends 8 requests, then exits
//
// With -daemon host:port it sends segments to that X-Ray daemon (or the
// Sidelight sidecar) instead of printing them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/middleware"
	"github.com/seed-c77c9410/sidelight/middleware/sampling"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to serve on")
	daemon := fs.String("daemon", "", "X-Ray daemon or Sidelight sidecar address (host:port); empty prints segments here")
	requests := fs.Int("requests", 0, "send this many requests, then exit (0: keep going until interrupted)")
	interval := fs.Duration("interval", 500*time.Millisecond, "time between generated requests")
	if err := fs.Parse(args); err != nil {
		return err
	}

	printed := make(chan struct{}, 1024)
	daemonAddr := *daemon
	if daemonAddr == "" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer pc.Close()
		daemonAddr = pc.LocalAddr().String()
		go printSegments(pc, out, printed)
	}
	emitter, err := xray.NewEmitter(xray.WithDaemonAddress(daemonAddr))
	if err != nil {
		return err
	}
	defer emitter.Shutdown(context.Background())
	rules, err := sampling.Parse([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1}}`))
	if err != nil {
		return err
	}

	// One kit for the service: it sends segments through the emitter and
	// owns the request metrics; Shutdown writes out what is left.
	kit, err := middleware.New(
		middleware.WithSegmentExporter(emitter),
		middleware.WithServiceName("quickstart"),
		middleware.WithSamplingRules(rules),
		middleware.WithLogger(slog.Default()),
	)
	if err != nil {
		return err
	}
	defer kit.Shutdown(context.Background())
	client := &http.Client{Transport: kit.Transport(nil), Timeout: 5 * time.Second}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	srv := &http.Server{
		Handler:           kit.HTTP()(routes(client, base)),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	fmt.Fprintf(out, "quickstart: serving on %s, segments go to %s\n", base, describe(*daemon))

	paths := []string{"/users/42", "/checkout", "/users/7", "/fail", "/teapot"}
	sent := 0
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for *requests == 0 || sent < *requests {
		resp, err := http.Get(base + paths[sent%len(paths)])
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		sent++
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	if err := kit.ForceFlush(ctx); err != nil {
		return err
	}
	if *daemon == "" {
		// Wait until every segment has been printed (or a second passes).
		deadline := time.After(time.Second)
		for got := 0; got < sent; got++ {
			select {
			case <-printed:
			case <-deadline:
				return errors.New("some segments were not received")
			}
		}
	}
	return nil
}

func describe(daemon string) string {
	if daemon == "" {
		return "this terminal"
	}
	return daemon
}

func routes(client *http.Client, base string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		_ = middleware.AddAnnotation(r.Context(), "user_id", r.PathValue("id"))
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	mux.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
		// A downstream call: it shows up as a remote subsegment.
		req, _ := http.NewRequestWithContext(r.Context(), "GET", base+"/inventory", nil)
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		_ = middleware.AddMetadata(r.Context(), "cart", map[string]int{"items": 3})
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /inventory", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"in_stock":true}`)
	})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) {
		_ = middleware.RecordError(r.Context(), errors.New("payment provider unavailable"))
		http.Error(w, "internal error", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /teapot", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	return mux
}

func printSegments(pc net.PacketConn, out io.Writer, printed chan<- struct{}) {
	buf := make([]byte, 1<<16)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		doc := buf[:n]
		if i := indexByte(doc, '\n'); i >= 0 {
			doc = doc[i+1:]
		}
		fmt.Fprintf(out, "segment: %s\n", doc)
		select {
		case printed <- struct{}{}:
		default:
		}
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
