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
	solUDP         = 17  // SOL_UDP
	udpSegment     = 103 // UDP_SEGMENT
	maxGSOSegments = 64
	maxGSOBytes    = 60000
)

type gsoWriter struct {
	conn *net.UDPConn
	big  []byte
	oob  []byte
}

func newGSOWriter(conn *net.UDPConn) *gsoWriter {
	oob := make([]byte, syscall.CmsgSpace(2))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = solUDP
	h.Type = udpSegment
	h.SetLen(syscall.CmsgLen(2))
	return &gsoWriter{conn: conn, big: make([]byte, 0, maxGSOBytes), oob: oob}
}

// errGSOUnsupported says the kernel or socket refused segmentation; the
// caller falls back to sendmmsg for good.
var errGSOUnsupported = errors.New("xray: UDP segmentation offload unsupported")

// write sends bufs and returns how many datagrams went out and how many
// were lost to errors. It sorts bufs by size.
func (g *gsoWriter) write(bufs []*[]byte, onErr func(error)) (sent, failed int, err error) {
	slices.SortFunc(bufs, func(a, b *[]byte) int { return len(*a) - len(*b) })
	for i := 0; i < len(bufs); {
		j := i + 1
		first := len(*bufs[i])
		for j < len(bufs) && j-i < maxGSOSegments {
			next := len(*bufs[j])
			if (j-i+1)*next > maxGSOBytes || next > first+first/4+64 {
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
		if _, _, werr := g.conn.WriteMsgUDP(g.big, g.oob, nil); werr != nil {
			if errors.Is(werr, syscall.EINVAL) || errors.Is(werr, syscall.EIO) || errors.Is(werr, syscall.EOPNOTSUPP) || errors.Is(werr, syscall.ENOPROTOOPT) {
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
