package emf

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// unreadBytes returns how many bytes c's kernel receive queue holds that
// have not been read (SIOCINQ), when the kernel can say.
func unreadBytes(c net.Conn) (int, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	n, ierr := 0, error(nil)
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || ierr != nil {
		return 0, false
	}
	return n, true
}
