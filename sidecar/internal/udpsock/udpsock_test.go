package udpsock_test

import (
	"context"
	"net"
	"testing"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/udpsock"
)

func TestListenAndBatchRead(t *testing.T) {
	conn, size, err := udpsock.Listen(context.Background(), "127.0.0.1:0", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() // the reader takes it over below; closing twice is harmless
	if size < 212992/2 {
		t.Fatalf("effective receive buffer %d", size)
	}
	t.Logf("effective SO_RCVBUF %d", size)
	out, err := net.Dial("udp", conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for _, m := range []string{"one", "two", "a longer datagram than the buffer"} {
		if _, err := out.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	r := udpsock.NewBatchReader(conn, 8, 16)
	defer r.Close()
	var got []string
	var trunc []bool
	for len(got) < 3 {
		if err := r.Read(func(p []byte, tr bool) { got = append(got, string(p)); trunc = append(trunc, tr) }); err != nil {
			t.Fatal(err)
		}
	}
	if got[0] != "one" || got[1] != "two" || trunc[1] || !trunc[2] {
		t.Fatalf("got %q truncated %v", got, trunc)
	}
}
