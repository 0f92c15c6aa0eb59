package localview

import (
	"net"
	"strings"
	"testing"
)

func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:0", "nonsense"} {
		if l, err := Listen(addr, false); err == nil {
			l.Close()
			t.Errorf("Listen(%q) accepted a non-loopback address", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		l, err := Listen(addr, false)
		if err != nil {
			t.Errorf("Listen(%q): %v", addr, err)
			continue
		}
		if ip := l.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			t.Errorf("Listen(%q) bound %v", addr, ip)
		}
		if u := URL(l.Addr()); !strings.HasPrefix(u, "http://127.0.0.1:") && !strings.HasPrefix(u, "http://localhost:") {
			t.Errorf("URL = %q", u)
		}
		l.Close()
	}
	l, err := Listen("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if u := URL(&net.TCPAddr{IP: net.IPv4zero, Port: 2772}); u != "http://localhost:2772/" {
		t.Errorf("URL of 0.0.0.0 = %q", u)
	}
	if u := URL(&net.TCPAddr{IP: net.IPv6loopback, Port: 1}); u != "http://localhost:1/" {
		t.Errorf("URL of ::1 = %q", u)
	}
}
