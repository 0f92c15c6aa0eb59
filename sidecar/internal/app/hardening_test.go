package app_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfgen"
)

// TestEndToEndBadEMFIsolated: 200 good series over TCP, documents whose
// dimensions CloudWatch refuses, and a 60 KB datagram that would expand to
// two million points go through the sidecar to the fake CloudWatch, which
// enforces the documented Dimension rules (one bad datum fails a whole
// request). Every good series arrives, nothing is refused, and the bad
// input is counted by reason.
func TestEndToEndBadEMFIsolated(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	a := startAWS(t, fake, testConfig(), nil)
	now := time.Now().UnixMilli()
	doc := func(dims, root string) string {
		return fmt.Sprintf(`{"_aws":{"Timestamp":%d,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[%s],"Metrics":[{"Name":"m"}]}]},%s,"m":1}`, now, dims, root)
	}
	tcp, err := net.Dial("tcp", a.Addrs()["emf_tcp"])
	if err != nil {
		t.Fatal(err)
	}
	want := emfgen.Totals{}
	for i := range 200 {
		fmt.Fprintf(tcp, "%s\n", doc(`["A"]`, fmt.Sprintf(`"A":"%d"`, i)))
		want.Add(emfgen.ID("n", "m", "None", 60, map[string]string{"A": fmt.Sprint(i)}), 1, 1)
	}
	for _, bad := range []string{
		doc(`["user"]`, `"user":"José"`), doc(`["user"]`, `"user":"  "`), doc(`[":user"]`, `":user":"x"`), doc(`["A","A"]`, `"A":"x"`),
	} {
		fmt.Fprintf(tcp, "%s\n", bad)
	}
	tcp.Close()
	udp, err := net.Dial("udp", a.Addrs()["emf_udp"])
	if err != nil {
		t.Fatal(err)
	}
	datagram := fmt.Sprintf(`{"_aws":{"Timestamp":%d,"CloudWatchMetrics":[{"Namespace":"n","Metrics":[%s],"Dimensions":[[]%s]}]},"m":1}`,
		now, strings.Repeat(`{"Name":"m"},`, 99)+`{"Name":"m"}`, strings.Repeat(`,[]`, 19_500))
	if _, err := udp.Write([]byte(datagram)); err != nil {
		t.Fatal(err)
	}
	udp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for a.Counters().Get("emf.accepted")+a.Counters().Get("emf.rejected.too_many_points") < 205 {
		select {
		case <-ctx.Done():
			t.Fatalf("not everything was read: %v", a.Counters().Snapshot())
		case <-time.After(10 * time.Millisecond):
		}
	}
	shutdown(t, a)
	got, _ := emfgen.Received(fake.Metrics())
	if d := emfgen.Diff(want, got); d != "" {
		t.Fatalf("metrics differ:\n%s\ncounters %v", d, a.Counters().Snapshot())
	}
	if fake.Invalid() != 0 {
		t.Fatalf("CloudWatch refused %d requests", fake.Invalid())
	}
	cs := a.Counters()
	for name, n := range map[string]uint64{"emf.rejected.too_many_points": 1, "metrics.dropped.bad_dimension_value": 2,
		"metrics.dropped.bad_dimension_name": 1, "metrics.dropped.duplicate_dimension": 1, "metrics.dropped.client_error": 0} {
		if cs.Get(name) != n {
			t.Errorf("%s = %d, want %d; counters %v", name, cs.Get(name), n, cs.Snapshot())
		}
	}
}
