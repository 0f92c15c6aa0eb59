package localview_test

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/seed-c77c9410/sidelight/sidecar/internal/localview"
)

const exampleSegment = `{"name":"checkout","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979",
"start_time":1.478293361271E9,"end_time":1.478293361449E9,"fault":true,
"http":{"request":{"method":"POST","url":"https://shop.example.com/checkout"},"response":{"status":500}},
"annotations":{"ColdStart":true}}`

const exampleSubsegment = `{"name":"payments","id":"53995c3f42cd8ad8","trace_id":"1-581cf771-a006649127e371903a2de979",
"type":"subsegment","parent_id":"70de5b6f19ff9a0a","namespace":"remote","start_time":1.478293361300E9,"end_time":1.478293361400E9}`

// The sidecar feeds documents in and mounts the handler; scripts read the
// same data as JSON.
func Example() {
	store, err := localview.New(localview.Config{Retention: 1 << 62}) // keep the 2016 sample
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.AddSegment([]byte(exampleSegment)); err != nil {
		log.Fatal(err)
	}
	if err := store.AddSegment([]byte(exampleSubsegment)); err != nil {
		log.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://localhost/api/traces?status=fault&annotation=ColdStart=true", nil)
	w := httptest.NewRecorder()
	store.Handler().ServeHTTP(w, req)
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Println(strings.Contains(w.Body.String(), `"service":"checkout"`), strings.Contains(w.Body.String(), `"documents":2`))
	// Output:
	// 200 application/json; charset=utf-8
	// true true
}

func ExampleNew() {
	dir, err := os.MkdirTemp("", "localview")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := localview.Config{
		MaxTraces:   5_000,
		MaxBytes:    32 << 20,
		PersistPath: filepath.Join(dir, "traces.jsonl"), // a restart keeps what was stored
		Retention:   1 << 62,
	}
	store, err := localview.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	store.AddSegment([]byte(exampleSegment))
	store.Close() // writes the file

	again, err := localview.New(cfg) // reads it back
	if err != nil {
		log.Fatal(err)
	}
	defer again.Close()
	fmt.Println(again.Stats().Traces, "trace after the restart")
	// Output: 1 trace after the restart
}

func ExampleStore_AddSegment() {
	store, _ := localview.New(localview.Config{})
	defer store.Close()
	err := store.AddSegment([]byte(`{"name":"api","id":"not-hex"}`))
	fmt.Println(err)
	fmt.Println(store.Stats().SegmentsRejected, "rejected")
	// Output:
	// localview: bad segment: trace_id "" is not an X-Ray trace ID
	// 1 rejected
}

func ExampleStore_AddEMF() {
	store, _ := localview.New(localview.Config{Retention: 1 << 62})
	defer store.Close()
	doc := `{"_aws":{"Timestamp":1574109732004,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[["Route"]],
"Metrics":[{"Name":"Latency","Unit":"Milliseconds"}]}]},"Route":"POST /checkout","Latency":[12,48,9],
"TraceId":"1-581cf771-a006649127e371903a2de979"}`
	if err := store.AddEMF([]byte(doc)); err != nil {
		log.Fatal(err)
	}
	w := httptest.NewRecorder()
	store.Handler().ServeHTTP(w, httptest.NewRequest("GET", "http://localhost/api/metrics?bucket=60", nil))
	body := w.Body.String()
	fmt.Println(strings.Contains(body, `"p99":48`), strings.Contains(body, `"trace_ids":["1-581cf771-a006649127e371903a2de979"]`))
	// Output: true true
}

func ExampleStore_Handler() {
	store, _ := localview.New(localview.Config{})
	defer store.Close()
	h := store.Handler()
	for _, host := range []string{"localhost:2772", "attacker.example.com"} {
		req := httptest.NewRequest("GET", "http://"+host+"/", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		fmt.Println(host, w.Code, w.Header().Get("X-Content-Type-Options"))
	}
	// Output:
	// localhost:2772 200 nosniff
	// attacker.example.com 421 nosniff
}

func ExampleListen() {
	l, err := localview.Listen("127.0.0.1:0", false)
	if err != nil {
		log.Fatal(err)
	}
	store, _ := localview.New(localview.Config{})
	srv := &http.Server{Handler: store.Handler()}
	go srv.Serve(l)
	fmt.Println(strings.HasPrefix(localview.URL(l.Addr()), "http://127.0.0.1:"))
	srv.Close()
	store.Close()

	_, err = localview.Listen(":2772", false)
	fmt.Println(err != nil)
	// Output:
	// true
	// true
}

func ExampleStore_Persist() {
	dir, _ := os.MkdirTemp("", "localview")
	defer os.RemoveAll(dir)
	store, _ := localview.New(localview.Config{PersistPath: filepath.Join(dir, "t.jsonl"), Retention: 1 << 62})
	defer store.Close()
	store.AddSegment([]byte(exampleSegment))
	// A daemon may persist periodically so that a crash loses less.
	fmt.Println(store.Persist())
	// Output: <nil>
}

func ExampleStore_Stats() {
	store, _ := localview.New(localview.Config{MaxTraces: 100})
	defer store.Close()
	st := store.Stats()
	fmt.Println(st.Traces, st.MaxTraces)
	// Output: 0 100
}

func ExampleConfig_Validate() {
	err := localview.Config{MaxTraces: -1}.Validate()
	fmt.Println(err)
	// Output: localview: invalid config: MaxTraces -1 is negative
}

func ExampleURL() {
	fmt.Println(localview.URL(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2772}))
	fmt.Println(localview.URL(&net.TCPAddr{IP: net.IPv4zero, Port: 2772}))
	// Output:
	// http://127.0.0.1:2772/
	// http://localhost:2772/
}

func ExampleStore_Close() {
	store, _ := localview.New(localview.Config{})
	fmt.Println(store.Close())
	fmt.Println(store.AddSegment([]byte(exampleSegment)))
	// Output:
	// <nil>
	// localview: store is closed
}
