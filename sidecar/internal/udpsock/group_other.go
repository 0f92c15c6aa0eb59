//go:build !linux

package udpsock

import (
	"context"
	"errors"
	"net"
)

func setReusePort(uintptr) error { return errors.New("udpsock: socket groups are Linux-only") }

// listenGroup keeps the one socket: groups are Linux-only.
func listenGroup(_ context.Context, first *net.UDPConn, _, _ int) ([]*net.UDPConn, error) {
	return []*net.UDPConn{first}, errors.New("udpsock: socket groups are Linux-only")
}
