package lambdatest

import (
	"fmt"
	"net"
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
)

// WaitDocument returns the matching document, not the first.
func TestWaitDocument(t *testing.T) {
	d, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := net.Dial("udp", d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, name := range []string{"first", "second"} {
		doc := fmt.Sprintf(`{"name":%q,"id":"70de5b6f19ff9a0%d","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1700000000,"end_time":1700000001}`, name, i)
		if _, err := c.Write([]byte(`{"format": "json", "version": 1}` + "\n" + doc)); err != nil {
			t.Fatal(err)
		}
	}
	got := WaitDocument(t, d, "the second segment", func(s xraytest.Segment) bool { return s.Name == "second" })
	if got.Name != "second" || got.ID != "70de5b6f19ff9a01" {
		t.Errorf("WaitDocument = %s", got.Raw)
	}
}
