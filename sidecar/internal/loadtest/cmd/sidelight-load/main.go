// Command sidelight-load measures the sidecar on loopback: it builds the
// sidecar, runs it against fake AWS APIs, sends segments at a target rate
// and EMF documents, and prints delivery, loss, CPU per segment and peak
// RSS.
//
//	go run ./sidecar/internal/loadtest/cmd/sidelight-load -n 1000000 -rate 100000 -emf 170000
//
// With -peer-daemon, the same segment load first runs against an AWS
// X-Ray daemon binary (built from github.com/aws/aws-xray-daemon's
// cmd/tracing; never a module dependency), then against the sidecar, and
// the command prints both results and the sidecar/daemon ratios of CPU
// per segment and peak RSS:
//
//	go run ./sidecar/internal/loadtest/cmd/sidelight-load -n 1000000 -rate 100000 -emf 0 -peer-daemon /tmp/xray-daemon
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/loadtest"
)

func main() {
	n := flag.Int("n", 1_000_000, "segments to send")
	rate := flag.Int("rate", 100_000, "segments per second")
	emfDocs := flag.Int("emf", 170_000, "EMF documents to send (about 6 datapoints each)")
	timeout := flag.Duration("timeout", 5*time.Minute, "bound on the whole run")
	profile := flag.String("cpuprofile", "", "have the sidecar write a CPU profile here")
	extra := flag.String("sidecar-args", "", "extra sidecar flags, space-separated")
	rcvbuf := flag.String("udp-rcvbuf", "", "the sidecar's -udp-rcvbuf (default: its default)")
	envs := flag.String("sidecar-env", "", "extra sidecar environment, K=V pairs separated by commas (GOMEMLIMIT=64MiB,...)")
	procs := flag.String("sidecar-gomaxprocs", "", "GOMAXPROCS for the sidecar process (default: the Go default)")
	daemon := flag.String("peer-daemon", "", "path of an AWS X-Ray daemon binary: run the same segment load against it first, then compare")
	emitter := flag.Bool("emitter", false, "send through Sidelight's xray.Emitter (runs of datagrams, UDP segmentation offload) instead of one datagram per segment like the X-Ray SDKs")
	daemonMB := flag.Int("peer-daemon-mb", 16, "the daemon's buffer memory (TotalBufferSizeMB)")
	unprivileged := flag.Bool("unprivileged", false, "run the sidecar as uid 65534 (like the image's nonroot user): no CAP_NET_ADMIN, so its UDP buffer is capped at net.core.rmem_max")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "sidelight-load")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	bin, err := loadtest.Build(ctx, dir)
	if err == nil && *unprivileged {
		err = os.Chmod(dir, 0o755) // MkdirTemp makes it 0700
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var peer loadtest.Result
	if *daemon != "" {
		peer, err = loadtest.Run(ctx, loadtest.Options{Daemon: *daemon, DaemonBufferMB: *daemonMB, Segments: *n, Rate: *rate, Emitter: *emitter})
		if err != nil {
			fmt.Fprintln(os.Stderr, "daemon:", err)
			os.Exit(1)
		}
		fmt.Printf("== AWS X-Ray daemon (%s) ==\n%s\n\n== sidecar ==\n", *daemon, peer)
	}
	r, err := loadtest.Run(ctx, loadtest.Options{Bin: bin, Segments: *n, Rate: *rate, Emitter: *emitter, EMFDocs: *emfDocs, Args: append(append(profileArgs(*profile), rcvbufArgs(*rcvbuf)...), strings.Fields(*extra)...), Env: envMap(*procs, *envs), Unprivileged: *unprivileged})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(r)
	fmt.Printf("counters: %v\n", r.Counters)
	if *daemon != "" {
		fmt.Printf("\n== sidecar / daemon ==\nCPU per segment: %.2f (%.2f / %.2f µs); peak RSS: %.2f (%.1f / %.1f MB); loss: %.3f %% / %.3f %%\n",
			r.CPUPerSegmentUs/peer.CPUPerSegmentUs, r.CPUPerSegmentUs, peer.CPUPerSegmentUs,
			float64(r.PeakRSSBytes)/float64(peer.PeakRSSBytes), float64(r.PeakRSSBytes)/1e6, float64(peer.PeakRSSBytes)/1e6,
			r.LossPct, peer.LossPct)
	}
}

func profileArgs(path string) []string {
	if path == "" {
		return nil
	}
	return []string{"-cpuprofile", path}
}

func envMap(procs, pairs string) map[string]string {
	m := map[string]string{}
	if procs != "" {
		m["GOMAXPROCS"] = procs
	}
	for _, kv := range strings.Split(pairs, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func rcvbufArgs(v string) []string {
	if v == "" {
		return nil
	}
	return []string{"-udp-rcvbuf", v}
}
