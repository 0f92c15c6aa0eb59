package xray

import (
	"fmt"
	"net"
	"strings"
)

// DefaultDaemonAddress is where the X-Ray daemon listens unless
// AWS_XRAY_DAEMON_ADDRESS says otherwise.
const DefaultDaemonAddress = "127.0.0.1:2000"

// DaemonAddress holds the daemon's UDP address (for segments) and TCP
// address (for the sampling API).
type DaemonAddress struct {
	UDP string
	TCP string
}

// ParseDaemonAddress parses the AWS_XRAY_DAEMON_ADDRESS forms: "host:port"
// (both protocols on one address) or "tcp:host:port udp:host:port" (in
// either order). An empty string gives the default address.
func ParseDaemonAddress(s string) (DaemonAddress, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DaemonAddress{UDP: DefaultDaemonAddress, TCP: DefaultDaemonAddress}, nil
	}
	fields := strings.Fields(s)
	if len(fields) == 1 {
		if err := checkHostPort(s); err != nil {
			return DaemonAddress{}, err
		}
		return DaemonAddress{UDP: s, TCP: s}, nil
	}
	if len(fields) != 2 {
		return DaemonAddress{}, fmt.Errorf("xray: daemon address %q: want host:port or \"tcp:host:port udp:host:port\"", s)
	}
	var a DaemonAddress
	for _, f := range fields {
		proto, addr, ok := strings.Cut(f, ":")
		if !ok {
			return DaemonAddress{}, fmt.Errorf("xray: daemon address %q: %q has no protocol prefix", s, f)
		}
		if err := checkHostPort(addr); err != nil {
			return DaemonAddress{}, err
		}
		switch strings.ToLower(proto) {
		case "udp":
			a.UDP = addr
		case "tcp":
			a.TCP = addr
		default:
			return DaemonAddress{}, fmt.Errorf("xray: daemon address %q: unknown protocol %q", s, proto)
		}
	}
	if a.UDP == "" || a.TCP == "" {
		return DaemonAddress{}, fmt.Errorf("xray: daemon address %q: need both tcp: and udp: parts", s)
	}
	return a, nil
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("xray: daemon address %q: %w", s, err)
	}
	if host == "" || port == "" {
		return fmt.Errorf("xray: daemon address %q: host and port are both required", s)
	}
	return nil
}
