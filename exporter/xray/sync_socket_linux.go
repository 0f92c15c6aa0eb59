//go:build linux

package xray

import (
	"net"
	"sync"
	"syscall"
)

// syncSocket is the socket ExportSegmentSync writes on: a UDP socket
// connected to the daemon that the Go runtime's network poller does not
// watch. A watched socket wakes the poller after writes (the send buffer
// being free again is an edge it reports), which costs an idle thread's
// wake-up, an epoll_wait and a pass of the scheduler: microseconds of CPU
// per segment in a Lambda invocation, for nothing, since a UDP write does
// not wait. Writes use MSG_DONTWAIT, so a full send buffer is an error,
// never a wait.
type syncSocket struct {
	mu sync.RWMutex // held for reading while writing, so close waits
	fd int          // -1 once closed
}

// newSyncSocket returns a socket connected to raddr, or nil if one cannot
// be made (the caller then writes on a net.UDPConn).
func newSyncSocket(raddr *net.UDPAddr) *syncSocket {
	var family int
	var sa syscall.Sockaddr
	if ip4 := raddr.IP.To4(); ip4 != nil {
		a := &syscall.SockaddrInet4{Port: raddr.Port}
		copy(a.Addr[:], ip4)
		family, sa = syscall.AF_INET, a
	} else if ip6 := raddr.IP.To16(); ip6 != nil {
		a := &syscall.SockaddrInet6{Port: raddr.Port}
		copy(a.Addr[:], ip6)
		if raddr.Zone != "" {
			if ifi, err := net.InterfaceByName(raddr.Zone); err == nil {
				a.ZoneId = uint32(ifi.Index)
			}
		}
		family, sa = syscall.AF_INET6, a
	} else {
		return nil
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_UDP)
	if err != nil {
		return nil
	}
	if err := syscall.Connect(fd, sa); err != nil {
		_ = syscall.Close(fd)
		return nil
	}
	return &syncSocket{fd: fd}
}

// write sends b as one datagram without waiting.
func (s *syncSocket) write(b []byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.fd < 0 {
		return net.ErrClosed
	}
	for {
		err := syscall.Sendto(s.fd, b, syscall.MSG_DONTWAIT, nil)
		if err != syscall.EINTR {
			if err != nil {
				return &net.OpError{Op: "write", Net: "udp", Err: err}
			}
			return nil
		}
	}
}

func (s *syncSocket) close() {
	s.mu.Lock()
	if s.fd >= 0 {
		_ = syscall.Close(s.fd)
		s.fd = -1
	}
	s.mu.Unlock()
}
