package udpsock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

func setReusePort(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}

// listenGroup replaces first, a socket bound without SO_REUSEPORT, with n
// sockets bound to its address with SO_REUSEPORT, each asking for rcvbuf,
// and attaches a program that has the kernel deliver each datagram to
// one of them at random (the group's default, a hash of the addresses,
// would send everything from one sender to one socket). If that fails it
// binds the address alone again and returns that socket with the error;
// it returns no sockets only when even that fails.
func listenGroup(ctx context.Context, first *net.UDPConn, rcvbuf, n int) ([]*net.UDPConn, error) {
	addr := first.LocalAddr().String()
	_ = first.Close()
	var conns []*net.UDPConn
	fail := func(err error) ([]*net.UDPConn, error) {
		for _, c := range conns {
			_ = c.Close()
		}
		c, _, lerr := Listen(ctx, addr, rcvbuf)
		if lerr != nil {
			return nil, errors.Join(err, lerr)
		}
		return []*net.UDPConn{c}, err
	}
	for range n {
		c, _, err := listen(ctx, addr, rcvbuf, true)
		if err != nil {
			return fail(err)
		}
		conns = append(conns, c)
	}
	if err := spreadAtRandom(conns[0], n); err != nil {
		return fail(err)
	}
	return conns, nil
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
