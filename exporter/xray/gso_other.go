//go:build !linux

package xray

import (
	"errors"
	"net"
)

type gsoWriter struct{}

func newGSOWriter(*net.UDPConn, func(from, to int, err error)) *gsoWriter { return nil }

var errGSOUnsupported = errors.New("xray: UDP segmentation offload unsupported")

func (*gsoWriter) write([]*[]byte, func(error)) (int, int, error) { return 0, 0, errGSOUnsupported }
