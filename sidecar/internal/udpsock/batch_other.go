//go:build !linux

package udpsock

import "net"

func newRawReader([]*net.UDPConn, int, int) *BatchReader { return nil }
