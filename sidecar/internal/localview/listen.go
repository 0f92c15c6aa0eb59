package localview

import (
	"fmt"
	"net"
)

// DefaultAddr is where the view listens unless told otherwise: loopback
// only, since the view has no authentication.
const DefaultAddr = "127.0.0.1:2772"

// Listen opens the view's TCP listener on addr (DefaultAddr when empty). It
// refuses an address that does not name a loopback interface (127.0.0.0/8,
// ::1 or localhost), including an empty host, which means every interface,
// unless allowRemote is set.
func Listen(addr string, allowRemote bool) (net.Listener, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("localview: listen address %q: %w", addr, err)
	}
	if !allowRemote && !isLoopbackHost(host) {
		return nil, fmt.Errorf("localview: listen address %q is not loopback; the view has no authentication (allow it explicitly to expose it)", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("localview: %w", err)
	}
	return l, nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URL is the address to open in a browser for a listener's address, for
// the sidecar's start-up message. A listener on every interface is shown as
// localhost.
func URL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String() + "/"
	}
	host := tcp.IP.String()
	if tcp.IP == nil || tcp.IP.IsUnspecified() || tcp.IP.IsLoopback() && tcp.IP.To4() == nil {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s/", net.JoinHostPort(host, fmt.Sprint(tcp.Port)))
}
