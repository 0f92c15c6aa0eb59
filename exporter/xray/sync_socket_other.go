//go:build !linux

package xray

import "net"

// syncSocket is a socket of its own for ExportSegmentSync on Linux; other
// systems write on a net.UDPConn.
type syncSocket struct{}

func newSyncSocket(*net.UDPAddr) *syncSocket { return nil }

func (*syncSocket) write([]byte) error { return net.ErrClosed }

func (*syncSocket) close() {}
