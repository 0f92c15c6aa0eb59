package httpbench

import (
	"net"
	"syscall"
	"testing"
	"unsafe"
)

// BenchmarkRawGSO writes 64 equal datagrams in one sendmsg with UDP_SEGMENT.
func BenchmarkRawGSO(b *testing.B) {
	s := startSink(b)
	conn, err := net.Dial("udp", s.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	seg := len(rawDatagram)
	big := make([]byte, 0, seg*64)
	for i := 0; i < 64; i++ {
		big = append(big, rawDatagram...)
	}
	// cmsg: level SOL_UDP (17), type UDP_SEGMENT (103), uint16 size.
	oob := make([]byte, syscall.CmsgSpace(2))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = 17
	h.Type = 103
	h.SetLen(syscall.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[syscall.CmsgLen(0)])) = uint16(seg)
	uc := conn.(*net.UDPConn)
	var n int64
	cpu0 := processCPU()
	for b.Loop() {
		if n%64 == 63 {
			if _, _, err := uc.WriteMsgUDP(big, oob, nil); err != nil {
				b.Fatal(err)
			}
		}
		n++
	}
	reportCPU(b, cpu0, n)
	report(b, n/64*64, s.count(b))
}
