//go:build !linux

package udpsock

import "net"

func newBlockingReader(*net.UDPConn, int, int) *BatchReader { return nil }
