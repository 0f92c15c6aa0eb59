package collector

import (
	"context"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
)

func TestCollectorStarts(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	fake.SetEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stop, err := Start(ctx, Config{OTLPHTTPAddr: "127.0.0.1:0", XRayEndpoint: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
