package httpbench

import (
	"net"
	"testing"

	"golang.org/x/net/ipv4"
)

var rawDatagram = append([]byte("{\"format\": \"json\", \"version\": 1}\n"), make([]byte, 400)...)

// BenchmarkRawWrite is the floor: one prebuilt datagram per op with write(2).
func BenchmarkRawWrite(b *testing.B) {
	s := startSink(b)
	conn, err := net.Dial("udp", s.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	var n int64
	cpu0 := processCPU()
	for b.Loop() {
		conn.Write(rawDatagram)
		n++
	}
	reportCPU(b, cpu0, n)
	report(b, n, s.count(b))
}

// BenchmarkRawSendmmsg writes the same datagram 64 at a time with sendmmsg(2).
func BenchmarkRawSendmmsg(b *testing.B) {
	s := startSink(b)
	conn, err := net.Dial("udp", s.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	pc := ipv4.NewPacketConn(conn.(*net.UDPConn))
	msgs := make([]ipv4.Message, 64)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{rawDatagram}
	}
	var n int64
	cpu0 := processCPU()
	for b.Loop() {
		if n%64 == 63 {
			pc.WriteBatch(msgs, 0)
		}
		n++
	}
	reportCPU(b, cpu0, n)
	report(b, n/64*64, s.count(b))
}
