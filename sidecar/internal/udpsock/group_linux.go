package udpsock

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func setReusePort(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}

// listenGroup binds n sockets to addr with SO_REUSEPORT, each asking for
// rcvbuf, attaches a program that has the kernel deliver each datagram to
// one of them at random (the group's default, a hash of the addresses,
// would send everything from one sender to one socket), and checks that
// no other socket shares the address (ErrShared). On error it closes
// what it bound. With port 0 the first socket picks the port and a
// port found shared is given up for another, a few times.
func listenGroup(ctx context.Context, addr string, rcvbuf, n int) ([]*net.UDPConn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		conns, err := bindGroup(ctx, addr, rcvbuf, n)
		if errors.Is(err, ErrShared) && port == "0" && attempt < 3 {
			continue // the kernel may hand out a port a same-user group holds
		}
		return conns, err
	}
}

// afterBind, when set (tests), is called after each member is bound.
var afterBind func(i int, addr string)

func bindGroup(ctx context.Context, addr string, rcvbuf, n int) ([]*net.UDPConn, error) {
	var conns []*net.UDPConn
	fail := func(err error) ([]*net.UDPConn, error) {
		for _, c := range conns {
			_ = c.Close()
		}
		return nil, err
	}
	for i := range n {
		c, _, err := listen(ctx, addr, rcvbuf, true)
		if err != nil {
			return fail(err)
		}
		conns = append(conns, c)
		addr = c.LocalAddr().String() // the port the first one got
		if afterBind != nil {
			afterBind(i, addr)
		}
	}
	if err := spreadAtRandom(conns[0], n); err != nil {
		return fail(err)
	}
	if err := checkMembers(conns); err != nil {
		return fail(err)
	}
	return conns, nil
}

// checkMembers looks up conns' address in the kernel's table of UDP
// sockets (/proc/net/udp or udp6, of this network namespace) and returns
// ErrShared if a socket there is none of conns (by inode).
func checkMembers(conns []*net.UDPConn) error {
	la, ok := conns[0].LocalAddr().(*net.UDPAddr)
	if !ok {
		return errors.New("udpsock: not a UDP address")
	}
	ours := map[uint64]bool{}
	for _, c := range conns {
		rc, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var st unix.Stat_t
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
			return err
		}
		if serr != nil {
			return serr
		}
		ours[st.Ino] = true
	}
	table := "/proc/net/udp"
	if la.IP.To4() == nil {
		table = "/proc/net/udp6"
	}
	b, err := os.ReadFile(table)
	if err != nil {
		return fmt.Errorf("udpsock: checking the group's members: %w", err)
	}
	found := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when
		// retrnsmt uid timeout inode ...
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		ip, port, ok := parseProcAddr(f[1])
		if !ok || port != la.Port || !ip.Equal(la.IP) {
			continue
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			continue
		}
		if !ours[ino] {
			return fmt.Errorf("%w: socket inode %d, uid %s", ErrShared, ino, f[7])
		}
		found++
	}
	if found != len(conns) {
		return fmt.Errorf("udpsock: checking the group's members: %d of %d sockets in %s", found, len(conns), table)
	}
	return nil
}

// parseProcAddr decodes a local_address of /proc/net/udp{,6}: the address
// as 32-bit words in hex, each in host byte order, a colon, and the port
// in hex.
func parseProcAddr(s string) (net.IP, int, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok || (len(h) != 8 && len(h) != 32) {
		return nil, 0, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return nil, 0, false
	}
	ip := make(net.IP, len(h)/2)
	for i := 0; i < len(h); i += 8 {
		w, err := strconv.ParseUint(h[i:i+8], 16, 32)
		if err != nil {
			return nil, 0, false
		}
		binary.NativeEndian.PutUint32(ip[i/2:], uint32(w))
	}
	return ip, int(port), true
}

// spreadAtRandom attaches to conn's SO_REUSEPORT group a classic BPF
// program that returns a random index below n: the socket, in the order
// they were bound, that receives the datagram.
func spreadAtRandom(conn *net.UDPConn, n int) error {
	// The kernel's "ancillary data" load of a random number:
	// SKF_AD_OFF + SKF_AD_RANDOM from linux/filter.h.
	const skfAdOff, skfAdRandom = -0x1000, 56
	random := int32(skfAdOff + skfAdRandom)
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: uint32(random)},
		{Code: unix.BPF_ALU | unix.BPF_MOD | unix.BPF_K, K: uint32(n)},
		{Code: unix.BPF_RET | unix.BPF_A},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &fprog)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("SO_ATTACH_REUSEPORT_CBPF: %w", serr)
	}
	return nil
}
