package sidecarcompat

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/daemoncfg"
	"github.com/aws/aws-xray-sdk-go/strategy/sampling"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
)

// TestXRaySDKCentralizedSamplingThroughSidecar points aws-xray-sdk-go's
// centralized sampling strategy at the sidecar's sampling proxy, as an app
// on ECS does, and checks the rules reach the SDK: the proxy's Host and
// Content-Type checks must let a real SDK through (it sends
// application/json, unsigned, with Host 127.0.0.1:port) and sign what it
// forwards.
func TestXRaySDKCentralizedSamplingThroughSidecar(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	rules, err := schematest.ReadReference("samples/sampling-getsamplingrules-response.json")
	if err != nil {
		t.Fatal(err)
	}
	fake.SetSamplingResponses(rules, []byte(`{"SamplingTargetDocuments":[],"LastRuleModification":0,"UnprocessedStatistics":[]}`))
	info, _ := startSidecarInfo(t, fake)

	ss, err := sampling.NewCentralizedStrategy()
	if err != nil {
		t.Fatal(err)
	}
	eps, err := daemoncfg.GetDaemonEndpointsFromString("tcp:" + info["addr_xray_tcp"] + " udp:" + info["addr_xray_udp"])
	if err != nil {
		t.Fatal(err)
	}
	ss.LoadDaemonEndpoints(eps)
	req := &sampling.Request{Host: "orders.example", Method: "GET", URL: "/orders/1", ServiceName: "orders", ServiceType: "AWS::ECS::Container"}
	ss.ShouldTrace(req) // starts the SDK's pollers

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fake.WaitFor(ctx, func() bool { return fake.Requests("GetSamplingRules") > 0 }); err != nil {
		t.Fatalf("the SDK's GetSamplingRules did not reach X-Ray through the proxy: %v", err)
	}
	if fake.Unsigned() != 0 {
		t.Errorf("%d requests reached X-Ray unsigned", fake.Unsigned())
	}
	// The SDK decides by a rule from X-Ray once it has read the answer.
	for {
		if d := ss.ShouldTrace(req); d.Rule != nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the SDK never decided by a rule it fetched through the proxy")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
