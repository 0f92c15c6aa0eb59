package udpsock

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// bindStranger binds a SO_REUSEPORT socket to addr, as another process of
// the same user could.
func bindStranger(addr string) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// TestStrangerGetsNoShare races a same-user process that keeps trying to
// join the address while Open forms its group, many times: the stranger
// must never receive a datagram sent to the address, and an Open that
// found it in the group must fail (ErrShared). (Before, Open bound a
// probe socket, closed it and bound the group: a stranger that got in
// between received a share of the datagrams.)
func TestStrangerGetsNoShare(t *testing.T) {
	defer func(v int) { forceLimit = v }(forceLimit)
	forceLimit = 0
	ask := 2 * rmemMax(t)
	var joined, refused, detected int
	for attempt := 0; attempt < 150; attempt++ {
		free, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := free.LocalAddr().String()
		free.Close()
		var stop atomic.Bool
		got := make(chan *net.UDPConn, 1)
		go func() {
			for !stop.Load() {
				if c, err := bindStranger(addr); err == nil {
					got <- c
					return
				}
			}
			got <- nil
		}()
		r, err := Open(context.Background(), addr, ask, 64, 2048)
		time.Sleep(time.Millisecond) // let the stranger join a group that lets it
		stop.Store(true)
		stranger := <-got
		switch {
		case err != nil && strings.Contains(err.Error(), "shares the address"):
			detected++
		case err != nil:
			refused++ // the stranger held the port first, without sharing it
		case stranger != nil:
			joined++
			out, derr := net.Dial("udp", addr)
			if derr != nil {
				t.Fatal(derr)
			}
			for i := range 200 {
				out.Write([]byte{byte(i)})
			}
			out.Close()
			_ = stranger.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			n := 0
			for buf := make([]byte, 16); ; n++ {
				if _, _, err := stranger.ReadFrom(buf); err != nil {
					break
				}
			}
			if n > 0 {
				t.Fatalf("attempt %d: a socket of another process joined the group and received %d of 200 datagrams", attempt, n)
			}
		}
		if stranger != nil {
			stranger.Close()
		}
		if r != nil {
			r.Close()
		}
	}
	t.Logf("150 attempts: stranger joined after the group %d times (received nothing), found in it %d times, held the port alone %d times",
		joined, detected, refused)
}

// TestOpenFailsWithStrangerInGroup puts a stranger into the group while
// Open binds it: Open must notice and fail with ErrShared, closing what it
// bound.
func TestOpenFailsWithStrangerInGroup(t *testing.T) {
	defer func(v int) { forceLimit = v }(forceLimit)
	forceLimit = 0
	var stranger *net.UDPConn
	afterBind = func(i int, addr string) {
		if i == 0 {
			var err error
			if stranger, err = bindStranger(addr); err != nil {
				t.Errorf("stranger: %v", err)
			}
		}
	}
	defer func() { afterBind = nil }()
	free, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.LocalAddr().String()
	free.Close()
	r, err := Open(context.Background(), addr, 2*rmemMax(t), 64, 2048)
	if stranger == nil {
		t.Fatal("no stranger bound")
	}
	defer stranger.Close()
	if !errors.Is(err, ErrShared) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("Open with a stranger in the group: %v", err)
	}
	t.Log(err)
	// Open's own sockets are closed: only the stranger holds the port.
	if err := checkMembers([]*net.UDPConn{stranger}); err != nil {
		t.Fatalf("after the failed Open: %v", err)
	}
}

// TestParseProcAddr decodes /proc/net/udp{,6} addresses.
func TestParseProcAddr(t *testing.T) {
	for _, c := range []struct {
		in   string
		ip   string
		port int
	}{
		{"0100007F:07D0", "127.0.0.1", 2000},
		{"00000000000000000000000001000000:64F0", "::1", 25840},
	} {
		ip, port, ok := parseProcAddr(c.in)
		if !ok || !ip.Equal(net.ParseIP(c.ip)) || port != c.port {
			t.Errorf("%s: %v %d %v", c.in, ip, port, ok)
		}
	}
	for _, bad := range []string{"", "0100007F", "0100007F:", "0100007G:07D0", "01007F:07D0", "0100007F:FFFFF"} {
		if _, _, ok := parseProcAddr(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzParseProcAddr: any line of /proc/net/udp decodes to a 4- or 16-byte
// address and a port, or is refused; never a panic.
func FuzzParseProcAddr(f *testing.F) {
	f.Add("0100007F:07D0")
	f.Add("00000000000000000000000001000000:64F0")
	f.Add("0100007F:")
	f.Fuzz(func(t *testing.T, s string) {
		ip, port, ok := parseProcAddr(s)
		if ok && ((len(ip) != 4 && len(ip) != 16) || port < 0 || port > 65535) {
			t.Fatalf("%q: %v %d", s, ip, port)
		}
	})
}
