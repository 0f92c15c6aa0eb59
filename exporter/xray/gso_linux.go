//go:build linux

package xray

import (
	"errors"
	"net"
	"slices"
	"syscall"
	"unsafe"
)

// UDP generic segmentation offload: one sendmsg(2) carries a run of
// datagrams of one size, and the kernel cuts it into datagrams. On loopback
// it costs a quarter of what sendmmsg(2) costs per datagram, which is what
// lets the emitter keep up with a busy service. Datagrams of a run must all
// be the run's size but the last, so shorter documents are padded with
// spaces after the JSON (whitespace JSON allows); runs group documents of
// similar size so the padding stays small.
const (
	solUDP     = 17  // SOL_UDP
	udpSegment = 103 // UDP_SEGMENT

	// The kernel refuses, with EINVAL, a send cut into more than
	// UDP_MAX_SEGMENTS datagrams: 64 from Linux 4.18, which brought
	// UDP_SEGMENT, to 6.8; 128 since 6.9 (commit 1382e3b6a350, "net:
	// change maximum number of UDP segments to 128", also taken into some
	// stable kernels). The writer starts at 128 and steps down to 64, then
	// to no segmentation at all, on the error.
	gsoSegmentsNew = 128
	gsoSegmentsOld = 64
	// maxGSOBytes bounds the bytes of one send: the payload of one IP
	// datagram, 65,507 bytes over IPv4, with room to spare.
	maxGSOBytes = 65000
)

type gsoWriter struct {
	conn *net.UDPConn
	big  []byte
	oob  []byte
	// maxSegs is how many datagrams one send may carry: gsoSegmentsNew
	// until the kernel refuses that many, then gsoSegmentsOld.
	maxSegs int
	// maxSize is the largest datagram sent in a run: each datagram the
	// kernel cuts from a run must fit the path's MTU unfragmented (it
	// refuses the send otherwise, with EMSGSIZE, or EINVAL before Linux
	// 6.x), where a datagram sent alone is fragmented by IP. Larger ones
	// are sent alone.
	maxSize int
	// send writes one segmented run (conn.WriteMsgUDP); tests replace it
	// to play kernels of other versions.
	send func(b, oob []byte) error
	// onFallback is told when the writer sends fewer datagrams at a time
	// (to = gsoSegmentsOld) or stops segmenting (to = 0), and why.
	onFallback func(from, to int, err error)
}

func newGSOWriter(conn *net.UDPConn, onFallback func(from, to int, err error)) *gsoWriter {
	oob := make([]byte, syscall.CmsgSpace(2))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = solUDP
	h.Type = udpSegment
	h.SetLen(syscall.CmsgLen(2))
	g := &gsoWriter{conn: conn, big: make([]byte, 0, maxGSOBytes), oob: oob, maxSegs: gsoSegmentsNew, onFallback: onFallback}
	g.send = func(b, oob []byte) error {
		_, _, err := g.conn.WriteMsgUDP(b, oob, nil)
		return err
	}
	g.maxSize = g.pathMaxSize()
	return g
}

// pathMaxSize is the largest UDP payload the connected socket's path
// carries unfragmented (IP_MTU or IPV6_MTU less the headers), or 1,232
// bytes, which fits any IPv6 path, when the kernel does not say.
func (g *gsoWriter) pathMaxSize() int {
	const fallback = 1280 - 40 - 8
	if g.conn == nil {
		return fallback
	}
	raw, err := g.conn.SyscallConn()
	if err != nil {
		return fallback
	}
	v6 := false
	if a, ok := g.conn.RemoteAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		v6 = true
	}
	size := fallback
	_ = raw.Control(func(fd uintptr) {
		if v6 {
			if mtu, err := syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_MTU); err == nil && mtu > 40+8 {
				size = mtu - 40 - 8
			}
		} else if mtu, err := syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MTU); err == nil && mtu > 20+8 {
			size = mtu - 20 - 8
		}
	})
	return size
}

// errGSOUnsupported says the kernel or socket refused segmentation; the
// caller falls back to sendmmsg for good.
var errGSOUnsupported = errors.New("xray: UDP segmentation offload unsupported")

// runLimit is how many datagrams one send carries at most. At 64, it is
// one less: kernels before 5.16 (before commit 158390e45612, "udp: using
// datalen to cap max gso segments") count the IP and UDP headers against
// the 64 datagrams' worth, so that a run of 64 equal datagrams is refused.
func (g *gsoWriter) runLimit() int {
	if g.maxSegs <= gsoSegmentsOld {
		return g.maxSegs - 1
	}
	return g.maxSegs
}

// write sends bufs and returns how many datagrams went out and how many
// were lost to errors. It sorts bufs by size. A refused send has sent
// nothing: when the kernel refuses a run of more than 64 datagrams, the
// writer lowers its limit to 64 and sends the same datagrams again in
// smaller runs; when a run's datagrams are too large for the path
// (EMSGSIZE), it sends the larger ones alone from then on; when it refuses
// a run otherwise, write returns errGSOUnsupported and sent+failed is the
// index of the first datagram not sent, for the caller to send otherwise.
func (g *gsoWriter) write(bufs []*[]byte, onErr func(error)) (sent, failed int, err error) {
	slices.SortFunc(bufs, func(a, b *[]byte) int { return len(*a) - len(*b) })
	for i := 0; i < len(bufs); {
		j := i + 1
		first := len(*bufs[i])
		limit := g.runLimit()
		for first <= g.maxSize && j < len(bufs) && j-i < limit {
			next := len(*bufs[j])
			if (j-i+1)*next > maxGSOBytes || next > first+first/4+64 || next > g.maxSize {
				break
			}
			j++
		}
		group := bufs[i:j]
		size := len(*group[len(group)-1])
		if len(group) == 1 {
			if _, werr := g.conn.Write(*group[0]); werr != nil {
				failed++
				onErr(werr)
			} else {
				sent++
			}
			i = j
			continue
		}
		g.big = g.big[:0]
		for k, b := range group {
			g.big = append(g.big, *b...)
			if k < len(group)-1 {
				for pad := size - len(*b); pad > 0; pad-- {
					g.big = append(g.big, ' ')
				}
			}
		}
		*(*uint16)(unsafe.Pointer(&g.oob[syscall.CmsgLen(0)])) = uint16(size)
		if werr := g.send(g.big, g.oob); werr != nil {
			if errors.Is(werr, syscall.EMSGSIZE) {
				// A datagram of the run is too large for the path (its
				// MTU fell): nothing was sent; send the larger ones
				// alone from now on.
				g.maxSize = min(g.pathMaxSize(), size-1)
				continue
			}
			if errors.Is(werr, syscall.EINVAL) && len(group) > gsoSegmentsOld && g.maxSegs > gsoSegmentsOld {
				// Too many datagrams for this kernel: nothing was sent;
				// send the same ones again, fewer at a time.
				g.fallBack(gsoSegmentsOld, werr)
				continue
			}
			if errors.Is(werr, syscall.EINVAL) || errors.Is(werr, syscall.EIO) || errors.Is(werr, syscall.EOPNOTSUPP) || errors.Is(werr, syscall.ENOPROTOOPT) {
				g.fallBack(0, werr)
				return sent, failed, errGSOUnsupported
			}
			failed += len(group)
			onErr(werr)
		} else {
			sent += len(group)
		}
		i = j
	}
	return sent, failed, nil
}

func (g *gsoWriter) fallBack(to int, err error) {
	from := g.maxSegs
	g.maxSegs = to
	if g.onFallback != nil {
		g.onFallback(from, to, err)
	}
}
