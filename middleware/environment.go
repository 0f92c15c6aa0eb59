package middleware

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

// environment describes where the service runs, for the origin and aws
// blocks of its segments. It is read once, in the background, starting
// with the first traced request, so that starting a service never waits
// on a metadata endpoint and a service that traces nothing reads nothing.
// The kit that made it cancels the read and waits for it at Shutdown.
type environment struct {
	cfg    *config
	origin string
	read   func(ctx context.Context) ([]byte, error) // nil: nothing to read
	block  atomic.Pointer[[]byte]

	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newEnvironment(cfg *config) *environment {
	env := &environment{cfg: cfg, done: make(chan struct{})}
	env.ctx, env.cancel = context.WithCancel(context.Background())
	switch {
	case cfg.ecs && cfg.ecsEndpoint != "":
		env.origin = "AWS::ECS::Container"
		env.read = func(ctx context.Context) ([]byte, error) {
			block, err := readECSMetadata(ctx, cfg.ecsEndpoint)
			if err != nil {
				cfg.logger.Warn("sidelight: ECS task metadata unavailable; segments carry no container details", "error", err)
				hostname, _ := os.Hostname()
				block = appendECSBlock(nil, hostname, "", "")
			}
			return block, nil
		}
	case cfg.ec2:
		env.origin = "AWS::EC2::Instance"
		env.read = func(ctx context.Context) ([]byte, error) {
			block, err := readEC2Metadata(ctx, cfg.ec2Endpoint)
			if err != nil {
				cfg.logger.Warn("sidelight: EC2 instance metadata unavailable; segments carry no origin", "error", err)
			}
			return block, err
		}
	default:
		close(env.done)
		env.once.Do(func() {})
		return env
	}
	cfg.kit.add(env)
	return env
}

// start reads the metadata in the background, once.
func (env *environment) start() {
	env.once.Do(func() {
		go func() {
			defer close(env.done)
			ctx, cancel := context.WithTimeout(env.ctx, 2*time.Second)
			defer cancel()
			if block, err := env.read(ctx); err == nil {
				env.block.Store(&block)
			}
		}()
	})
}

// fill sets the segment's origin and aws environment block, once known;
// the first call starts reading them.
func (env *environment) fill(seg *xray.Segment) {
	if b := env.block.Load(); b != nil {
		seg.Origin = env.origin
		seg.AWS.Environment = *b
		return
	}
	env.start()
}

func (env *environment) flush(context.Context) error { return nil }

// shutdown stops a read in progress and waits for it; afterwards no read
// starts.
func (env *environment) shutdown(ctx context.Context) error {
	started := true
	env.once.Do(func() { started = false; close(env.done) })
	env.cancel()
	if !started {
		return nil
	}
	select {
	case <-env.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait blocks until the environment has been read; tests use it.
func (env *environment) wait() { <-env.done }

// metadataClient reads the metadata endpoints: never through a proxy, and
// without keeping connections (and their goroutines) open afterwards.
var metadataClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

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
	resp, err := metadataClient.Do(req)
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

// ec2Identity is the part of the instance identity document segments use.
type ec2Identity struct {
	InstanceID       string `json:"instanceId"`
	AvailabilityZone string `json:"availabilityZone"`
	InstanceType     string `json:"instanceType"`
	ImageID          string `json:"imageId"`
}

// readEC2Metadata reads the instance identity document with IMDSv2: a
// session token first, then the document.
func readEC2Metadata(ctx context.Context, endpoint string) ([]byte, error) {
	endpoint = strings.TrimRight(endpoint, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, endpoint+"/latest/api/token", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "60")
	resp, err := metadataClient.Do(req)
	if err != nil {
		return nil, err
	}
	token, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("IMDS token: HTTP %d %v", resp.StatusCode, err)
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/latest/dynamic/instance-identity/document", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Aws-Ec2-Metadata-Token", string(token))
	resp, err = metadataClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("IMDS identity document: HTTP %d", resp.StatusCode)
	}
	var id ec2Identity
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&id); err != nil {
		return nil, fmt.Errorf("IMDS identity document: %w", err)
	}
	if id.InstanceID == "" {
		return nil, fmt.Errorf("IMDS identity document has no instanceId")
	}
	b := []byte(`"ec2":{"instance_id":`)
	b = jsonenc.AppendString(b, id.InstanceID)
	for _, f := range [][2]string{{"availability_zone", id.AvailabilityZone}, {"instance_size", id.InstanceType}, {"ami_id", id.ImageID}} {
		if f[1] != "" {
			b = jsonenc.AppendKey(b, f[0], true)
			b = jsonenc.AppendString(b, f[1])
		}
	}
	return append(b, '}'), nil
}
