package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"go.uber.org/goleak"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
	"github.com/seed-c77c9410/sidelight/internal/schematest"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/app"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/config"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/ecsmeta"
	"github.com/seed-c77c9410/sidelight/sidecar/internal/emfgen"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testConfig binds everything to free loopback ports.
func testConfig() config.Config {
	c := config.Default()
	c.XRayUDPAddr, c.XRayTCPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.EMFTCPAddr, c.EMFUDPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.StatusAddr, c.UIAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.OTLPHTTPAddr, c.OTLPGRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.UDPReadBuf = 4 << 20
	return c
}

func startAWS(t *testing.T, fake *fakeaws.Server, c config.Config, task *ecsmeta.Task) *app.App {
	t.Helper()
	fake.SetEnv(t)
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), app.Options{Config: c, AWS: &awsCfg, Task: task})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a
}

func shutdown(t *testing.T, a *app.App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v; counters %v", err, a.Counters().Snapshot())
	}
}

const header = `{"format": "json", "version": 1}` + "\n"

func segmentDoc(i int) string {
	return fmt.Sprintf(`{"trace_id":"1-6553f100-%024x","id":"%016x","start_time":1700000000.%03d,"end_time":1700000001.5,"name":"checkout","http":{"request":{"method":"GET","url":"http://x/cart"},"response":{"status":200}}}`, i, i+1, i%1000)
}

func subsegmentDoc(i int) string {
	return fmt.Sprintf(`{"type":"subsegment","parent_id":"%016x","trace_id":"1-6553f100-%024x","id":"%016x","start_time":1700000000.1,"end_time":1700000000.2,"name":"dynamodb","namespace":"aws"}`, i+1, i, i+1_000_000)
}

// sendUDP writes each datagram to addr.
func sendUDP(t *testing.T, addr string, pkts []string) {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, p := range pkts {
		if _, err := conn.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
}

// sendSegments sends segment documents 0..n-1 (segmentDoc) to addr, one
// daemon-protocol datagram each.
func sendSegments(t *testing.T, addr string, n int) {
	t.Helper()
	pkts := make([]string, 0, n)
	for i := range n {
		pkts = append(pkts, header+segmentDoc(i))
	}
	sendUDP(t, addr, pkts)
}

// sendEMFLines writes prod's documents 0..n-1 as lines on one TCP
// connection to addr, then closes it.
func sendEMFLines(t *testing.T, addr string, prod *emfgen.Producer, n int) {
	t.Helper()
	tcp, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	for i := range n {
		if _, err := fmt.Fprintf(tcp, "%s\n", prod.Doc(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// waitCounters polls until cond holds, failing with the sidecar's
// counters when ctx ends first.
func waitCounters(t *testing.T, ctx context.Context, a *app.App, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, a.Counters().Snapshot())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestEndToEndAWS: synthetic X-Ray daemon datagrams (segments and
// independent subsegments), official-format EMF over TCP and UDP and the
// sampling API all go through the sidecar to the fake AWS APIs, which
// decode the real wire protocols. Everything arrives, with ECS metadata,
// and the metric values and counts equal what was sent.
func TestEndToEndAWS(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	task := &ecsmeta.Task{Cluster: "arn:aws:ecs:us-east-1:111122223333:cluster/prod", TaskARN: "arn:aws:ecs:us-east-1:111122223333:task/prod/abc", Family: "checkout", Revision: "7", LaunchType: "FARGATE"}
	c := testConfig()
	c.ECSDims = []string{"cluster"}
	a := startAWS(t, fake, c, task)
	addrs := a.Addrs()

	var pkts []string
	want := map[string]bool{}
	for i := range 2000 {
		d := segmentDoc(i)
		if i%4 == 3 {
			d = subsegmentDoc(i)
		}
		pkts = append(pkts, header+d)
		want[d] = true
	}
	pkts = append(pkts, "garbage", header+"{}")
	sendUDP(t, addrs["xray_udp"], pkts)

	prod := emfgen.NewProducer("checkout-svc", 7)
	prod.TimestampMs = time.Now().UnixMilli() // CloudWatch takes only recent datapoints
	sendEMFLines(t, addrs["emf_tcp"], prod, 3000)
	udp, err := net.Dial("udp", addrs["emf_udp"])
	if err != nil {
		t.Fatal(err)
	}
	for i := 3000; i < 3500; i++ {
		if _, err := udp.Write(prod.Doc(i)); err != nil {
			t.Fatal(err)
		}
	}
	udp.Close()

	// The sampling proxy answers with what X-Ray answered.
	resp, err := http.Post("http://"+addrs["xray_tcp"]+"/GetSamplingRules", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "SamplingRuleRecords") {
		t.Fatalf("sampling proxy: %d %s", resp.StatusCode, body)
	}

	// Wait until every datagram and line was read, then shut down: the
	// shutdown flushes everything still buffered.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for a.Counters().Get("segments.accepted")+a.Counters().Get("segments.rejected.bad_header")+a.Counters().Get("segments.rejected.bad_trace_id") < 2002 ||
		a.Counters().Get("emf.accepted") < 3500 {
		select {
		case <-ctx.Done():
			t.Fatalf("not everything was read: %v", a.Counters().Snapshot())
		case <-fake.Changed():
		case <-time.After(10 * time.Millisecond): // polling the sidecar's own counters
		}
	}
	st := getStatus(t, addrs["status"])
	shutdown(t, a)

	got := fake.Segments()
	if len(got) != 2000 {
		t.Fatalf("%d segments delivered, want 2000; counters %v", len(got), a.Counters().Snapshot())
	}
	for _, g := range got {
		var m struct {
			ID  string `json:"id"`
			AWS struct {
				ECS map[string]string `json:"ecs"`
			} `json:"aws"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(g), &m); err != nil {
			t.Fatal(err)
		}
		if m.Type == "subsegment" {
			if !want[g] {
				t.Fatalf("subsegment changed: %s", g)
			}
			continue
		}
		if m.AWS.ECS["task_arn"] != task.TaskARN {
			t.Fatalf("segment without ECS metadata: %s", g)
		}
		if err := schematest.Segment([]byte(g)); err != nil {
			t.Fatalf("delivered segment fails the schema: %v\n%s", err, g)
		}
	}
	if n := a.Counters().Get("segments.rejected.bad_header"); n != 1 {
		t.Fatalf("bad_header = %d", n)
	}

	// Metrics: every value and count, with the ECS cluster dimension.
	wantTotals := emfgen.Totals{}
	for id, vals := range prod.Want {
		id = strings.Replace(id, "|LogGroup=", "|ClusterName=prod,LogGroup=", 1)
		for v, n := range vals {
			wantTotals.Add(id, v, n)
		}
	}
	gotTotals, stats := emfgen.Received(fake.Metrics())
	if len(stats) != 0 {
		t.Fatalf("statistic sets %v", stats)
	}
	if d := emfgen.Diff(wantTotals, gotTotals); d != "" {
		t.Fatalf("metrics differ:\n%s", d)
	}
	if fake.Unsigned() != 0 || fake.Invalid() != 0 {
		t.Fatalf("unsigned %d invalid %d", fake.Unsigned(), fake.Invalid())
	}
	if st.Info["mode"] != "aws" || st.Counters["segments.accepted"] == 0 {
		t.Fatalf("status %+v", st)
	}
	if pause, ok := st.Info["xray_udp_max_read_pause_us"].(float64); !ok || pause < 0 || pause > 2000 {
		t.Fatalf("xray_udp_max_read_pause_us = %v, want 0..2000", st.Info["xray_udp_max_read_pause_us"])
	}
	if n, ok := st.Info["xray_udp_sockets"].(float64); !ok || n < 1 || n > 8 {
		t.Fatalf("xray_udp_sockets = %v, want 1..8", st.Info["xray_udp_sockets"])
	}
}

type statusDoc struct {
	Counters map[string]uint64
	Info     map[string]any
}

func getStatus(t *testing.T, addr string) statusDoc {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s statusDoc
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFaultsNothingLost: X-Ray and CloudWatch answer 500, 503 and
// throttling for a while, then recover; within the memory budget nothing
// is lost.
func TestFaultsNothingLost(t *testing.T) {
	fake := fakeaws.New()
	defer fake.Close()
	a := startAWS(t, fake, testConfig(), nil)
	for _, svc := range []fakeaws.Service{fakeaws.XRay, fakeaws.CloudWatch} {
		fake.Fail(svc, 3, fakeaws.Fault500)
		fake.Fail(svc, 3, fakeaws.Fault503)
		fake.Fail(svc, 3, fakeaws.FaultThrottle)
	}
	sendSegments(t, a.Addrs()["xray_udp"], 1000)
	prod := emfgen.NewProducer("ns", 9)
	prod.TimestampMs = time.Now().UnixMilli() // CloudWatch takes only recent datapoints
	sendEMFLines(t, a.Addrs()["emf_tcp"], prod, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fake.WaitFor(ctx, func() bool { return fake.SegmentCount() >= 1000 }); err != nil {
		t.Fatalf("%v: %d segments; %v", err, fake.SegmentCount(), a.Counters().Snapshot())
	}
	for a.Counters().Get("emf.accepted") < 1000 {
		select {
		case <-ctx.Done():
			t.Fatal("EMF not read")
		case <-time.After(10 * time.Millisecond):
		}
	}
	shutdown(t, a)
	got, _ := emfgen.Received(fake.Metrics())
	if d := emfgen.Diff(prod.Want, got); d != "" {
		t.Fatalf("metrics differ:\n%s", d)
	}
	if dup := fake.SegmentCount(); dup != 1000 {
		t.Fatalf("%d segments delivered", dup)
	}
	cs := a.Counters()
	if cs.Get("segments.retried.server_error") == 0 || cs.Get("segments.retried.throttled") == 0 || cs.Get("metrics.retried.throttled") == 0 {
		t.Fatalf("retries not counted: %v", cs.Snapshot())
	}
	for _, name := range cs.Names() {
		if strings.Contains(name, ".dropped.") && cs.Get(name) != 0 {
			t.Fatalf("%s = %d", name, cs.Get(name))
		}
	}
}

func TestEMFToLogs(t *testing.T) {
	fake := fakeaws.New(fakeaws.WithLogStreamsRequired())
	defer fake.Close()
	c := testConfig()
	c.EMFToLogs, c.LogStream = true, "task-1"
	a := startAWS(t, fake, c, nil)
	prod := emfgen.NewProducer("ns", 5)
	prod.TimestampMs = time.Now().UnixMilli() // CloudWatch takes only recent datapoints
	tcp, err := net.Dial("tcp", a.Addrs()["emf_tcp"])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 500 {
		d := prod.Doc(i)
		want = append(want, string(d))
		fmt.Fprintf(tcp, "%s\n", d)
	}
	tcp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for a.Counters().Get("emf.accepted") < 500 {
		select {
		case <-ctx.Done():
			t.Fatal("EMF not read")
		case <-time.After(10 * time.Millisecond):
		}
	}
	shutdown(t, a)
	var got []string
	for _, r := range fake.LogRequests() {
		if r.LogGroupName != "/ecs/checkout" || r.LogStreamName != "task-1" {
			t.Fatalf("group/stream %s/%s", r.LogGroupName, r.LogStreamName)
		}
		for _, e := range r.LogEvents {
			got = append(got, e.Message)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%d of %d documents forwarded", len(got), len(want))
	}
	if fake.Requests("PutMetricData") != 0 {
		t.Fatal("PutMetricData called in logs mode")
	}
}

// TestLocalMode: without AWS the sidecar feeds the local view and serves
// it; what was sent shows up in its API.
func TestLocalMode(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Config: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	addrs := a.Addrs()
	if !a.Local() || !strings.HasPrefix(addrs["ui"], "http://127.0.0.1:") || addrs["xray_tcp"] == "" {
		t.Fatalf("addrs %v", addrs)
	}
	resp, err := http.Post("http://"+addrs["xray_tcp"]+"/GetSamplingRules", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("local sampling rules: %d", resp.StatusCode)
	}
	sendUDP(t, addrs["xray_udp"], []string{header + segmentDoc(1), header + segmentDoc(2)})
	tcp, err := net.Dial("tcp", addrs["emf_tcp"])
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(tcp, "%s\n", emfgen.NewProducer("ns", 1).Doc(0))
	tcp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stats struct {
		Segments uint64 `json:"segments_received"`
		EMF      uint64 `json:"metric_docs_received"`
	}
	for stats.Segments < 2 || stats.EMF < 1 {
		select {
		case <-ctx.Done():
			t.Fatalf("local view stats %+v", stats)
		case <-time.After(10 * time.Millisecond):
		}
		resp, err := http.Get(addrs["ui"] + "api/stats")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&stats)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Documents reach the view through its inbox, whose drops are counted.
	if snap := a.Counters().Snapshot(); snap["local.dropped"] != 0 || snap["local.rejected"] != 0 {
		t.Errorf("counters %v", snap)
	} else if _, ok := snap["local.dropped"]; !ok {
		t.Errorf("no local.dropped counter: %v", snap)
	}
	shutdown(t, a)
}

func ExampleNew() {
	c := config.Default()
	c.StatusAddr = "not an address"
	_, err := app.New(context.Background(), app.Options{Config: c})
	fmt.Println(err != nil)
	// Output: true
}

// With -persist, the view's file is written every -persist-every, not only
// at shutdown, so a crash loses at most one interval.
func TestLocalModePersistsPeriodically(t *testing.T) {
	c := testConfig()
	c.PersistPath = filepath.Join(t.TempDir(), "view.jsonl")
	c.PersistEvery = 20 * time.Millisecond
	a, err := app.New(context.Background(), app.Options{Config: c})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, a)
	sendUDP(t, a.Addrs()["xray_udp"], []string{header + segmentDoc(7)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		data, _ := os.ReadFile(c.PersistPath)
		if bytes.Contains(data, []byte(`"name"`)) {
			return // written while the sidecar runs
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the view was not persisted while running; file holds %q", data)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestLocalViewAllowedHosts: with -allow-remote, -allowed-hosts lets the
// view answer to a container name or an IP; other Host headers are still
// refused (DNS rebinding).
func TestLocalViewAllowedHosts(t *testing.T) {
	c := testConfig()
	c.AllowRemote = true
	c.AllowedHosts = []string{"sidecar", "10.0.1.7"}
	a, err := app.New(context.Background(), app.Options{Config: c})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, a)
	for host, want := range map[string]int{"sidecar:2772": 200, "10.0.1.7:2772": 200, "SIDECAR": 200,
		"localhost": 200, "attacker.example:2772": http.StatusMisdirectedRequest} {
		req, err := http.NewRequest("GET", a.Addrs()["ui"]+"api/stats", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: status %d, want %d", host, resp.StatusCode, want)
		}
	}
}
