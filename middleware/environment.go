package middleware

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

// environment describes where the service runs, for the origin and aws
// blocks of its segments. It is read once, in the background, so that
// starting a service never waits on a metadata endpoint.
type environment struct {
	origin string
	block  atomic.Pointer[[]byte]
	done   chan struct{}
}

func startEnvironment(cfg *config) *environment {
	env := &environment{done: make(chan struct{})}
	if !cfg.ecs || cfg.ecsEndpoint == "" {
		close(env.done)
		return env
	}
	env.origin = "AWS::ECS::Container"
	go func() {
		defer close(env.done)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		block, err := readECSMetadata(ctx, cfg.ecsEndpoint)
		if err != nil {
			cfg.logger.Warn("sidelight: ECS task metadata unavailable; segments carry no container details", "error", err)
			hostname, _ := os.Hostname()
			block = appendECSBlock(nil, hostname, "", "")
		}
		env.block.Store(&block)
	}()
	return env
}

// fill sets the segment's origin and aws environment block, once known.
func (env *environment) fill(seg *xray.Segment) {
	if env.origin == "" {
		return
	}
	seg.Origin = env.origin
	if b := env.block.Load(); b != nil {
		seg.AWS.Environment = *b
	}
}

// wait blocks until the environment has been read; tests use it.
func (env *environment) wait() { <-env.done }

// ecsContainer is the part of the ECS task metadata v4 container response
// that segments use.
type ecsContainer struct {
	DockerID     string `json:"DockerId"`
	Name         string `json:"Name"`
	ContainerARN string `json:"ContainerARN"`
}

func readECSMetadata(ctx context.Context, endpoint string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(endpoint, "/"), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ECS task metadata: HTTP %d", resp.StatusCode)
	}
	var c ecsContainer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&c); err != nil {
		return nil, fmt.Errorf("ECS task metadata: %w", err)
	}
	hostname, _ := os.Hostname()
	return appendECSBlock(nil, hostname, c.DockerID, c.ContainerARN), nil
}

func appendECSBlock(dst []byte, container, id, arn string) []byte {
	dst = append(dst, `"ecs":{"container":`...)
	dst = jsonenc.AppendString(dst, container)
	if id != "" {
		dst = append(dst, `,"container_id":`...)
		dst = jsonenc.AppendString(dst, id)
	}
	if arn != "" {
		dst = append(dst, `,"container_arn":`...)
		dst = jsonenc.AppendString(dst, arn)
	}
	return append(dst, '}')
}
