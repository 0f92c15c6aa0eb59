//go:build !linux

package udpsock

import (
	"context"
	"errors"
	"net"
)

func setReusePort(uintptr) error { return errors.New("udpsock: socket groups are Linux-only") }

// listenGroup binds nothing: groups are Linux-only.
func listenGroup(context.Context, string, int, int) ([]*net.UDPConn, error) {
	return nil, errors.New("udpsock: socket groups are Linux-only")
}
