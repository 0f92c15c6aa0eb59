package emf_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfdoc"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/receiver/emf"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/status"
)

// viewLike is a consumer like the local view: it asks for trace IDs and
// to be told of refused lines.
type viewLike struct {
	mu      sync.Mutex
	points  []string
	ids     []string
	refused []emfdoc.Reason
}

func (v *viewLike) ConsumeEMF(d *emfdoc.Document) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, p := range d.Points {
		v.points = append(v.points, fmt.Sprintf("%s/%s %v %v", p.Namespace, p.Name, p.Dims, p.Values))
	}
	v.ids = append(v.ids, d.TraceIDs...)
}
func (v *viewLike) RejectedEMF(r emfdoc.Reason) {
	v.mu.Lock()
	v.refused = append(v.refused, r)
	v.mu.Unlock()
}
func (v *viewLike) WantsTraceIDs() bool { return true }

// TestConsumerGetsParsedDocuments: over UDP, each line is parsed once and
// its consumer gets the points and, when it asks, the trace IDs; refused
// lines are reported to it with their reason as well as counted.
func TestConsumerGetsParsedDocuments(t *testing.T) {
	v := &viewLike{}
	counters := status.NewCounters()
	r, err := emf.New(emf.Config{TCPAddr: "off", UDPAddr: "127.0.0.1:0", Consumer: v, Counters: counters})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", r.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const id = "1-5759e988-bd862e3fe1be46a994272793"
	before := emfdoc.Parses()
	line := `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Svc"]],"Metrics":[{"Name":"m","Unit":"Count"}]}]},"Svc":"api","m":[1,2],"TraceId":"` + id + `"}`
	if _, err := conn.Write([]byte(line + "\n" + `{"_aws":{"Timestamp":1}}` + "\n" + `{"no":"aws"}`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for counters.Get("emf.lines") < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if fmt.Sprint(v.points) != "[n/m [{Svc api}] [1 2]]" || fmt.Sprint(v.ids) != "["+id+"]" ||
		fmt.Sprint(v.refused) != "[bad_directive no_aws]" {
		t.Errorf("points %v, trace IDs %v, refused %v", v.points, v.ids, v.refused)
	}
	if n := emfdoc.Parses() - before; n != 3 {
		t.Errorf("3 lines parsed %d times", n)
	}
}
