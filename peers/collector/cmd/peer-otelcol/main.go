// Command peer-otelcol runs the peer OpenTelemetry Collector of package
// collector (OTLP/HTTP in, batch, awsxrayexporter out) as a process of its
// own, for measuring it (see cmd/otlp-load). AWS credentials come from the
// environment. It stops at SIGTERM or SIGINT.
//
//	peer-otelcol -otlp-http-addr 127.0.0.1:4318 -xray-endpoint http://127.0.0.1:9000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/seed-c77c9410/sidelight/peers/collector"
)

func main() {
	var c collector.Config
	flag.StringVar(&c.OTLPHTTPAddr, "otlp-http-addr", "127.0.0.1:4318", "OTLP/HTTP receiver address")
	flag.StringVar(&c.XRayEndpoint, "xray-endpoint", "", "X-Ray endpoint URL")
	flag.IntVar(&c.BatchSize, "batch-size", 50, "batch/traces send_batch_size")
	flag.DurationVar(&c.BatchTimeout, "batch-timeout", time.Second, "batch/traces timeout")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	stop, err := collector.Start(sctx, c)
	scancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "{\"msg\":\"collector started\",\"otlp_http\":%q}\n", c.OTLPHTTPAddr)
	<-ctx.Done()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
