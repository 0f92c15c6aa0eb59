package middleware

import (
	"net"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

type xraytest_Segment = xraytest.Segment

func attrInt(k string, v int) attribute.KeyValue { return attribute.Int(k, v) }

type netDialer struct{}

func (netDialer) dial(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, 5*time.Second)
}
