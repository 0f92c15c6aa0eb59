//go:build !linux

package emf

import "net"

// unreadBytes cannot ask this system's kernel: a stopped connection reads
// for CloseGrace only.
func unreadBytes(net.Conn) (int, bool) { return 0, false }
