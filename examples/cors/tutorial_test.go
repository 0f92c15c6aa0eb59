package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/corsscenarios"
	"github.com/seed-c77c9410/sidelight/internal/tutorialtest"
)

// The commands in the tutorial's sh blocks, each run by
// TestTutorialCommands. A command added to the tutorial must be added here.
const (
	cmdSidecar = "go run ./sidecar -local"
	cmdExample = "go run ./examples/cors"
	cmdSmoke   = "go run ./examples/cors -smoke"
	cmdCurlAPI = "curl -i -X OPTIONS http://127.0.0.1:8090/s3/broken-405 -H 'Origin: http://127.0.0.1:8091' -H 'Access-Control-Request-Method: PUT' -H 'Access-Control-Request-Headers: content-type'"
	cmdCurlUI  = "curl -s 'http://127.0.0.1:2772/api/traces?annotation=cors_verdict=blocked'"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	line chan string
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.line != nil {
		for _, l := range strings.SplitAfter(string(p), "\n") {
			if strings.HasSuffix(l, "\n") {
				select {
				case b.line <- strings.TrimSuffix(l, "\n"):
				default:
				}
			}
		}
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestTutorialCommands runs every command of the tutorial, in order, as a
// reader would: the sidecar in local mode, the example with -smoke, the
// example serving the page, the curl that replays a preflight, and the curl
// that lists blocked requests in the local view, which must find every
// request the commands made that a browser would block. The CORSBlocked
// metric, as the sidecar shows it, must count the same.
func TestTutorialCommands(t *testing.T) {
	want := []string{cmdSidecar, cmdExample, cmdSmoke, cmdCurlUI, cmdCurlAPI}
	if got := tutorialtest.Commands(t); !slices.Equal(got, want) {
		t.Fatalf("the tutorial's commands are\n  %s\nthe test runs\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// go run ./sidecar -local
	sc := tutorialtest.StartSidecar(t, ctx)
	telemetry := []string{"-daemon", sc.UDP, "-emf", sc.EMF, "-view", sc.UI, "-metrics-interval", "100ms"}

	// go run ./examples/cors -smoke
	var smokeOut, smokeErr syncBuffer
	if err := run(ctx, append([]string{"-smoke", "-api-addr", "127.0.0.1:0", "-page-addr", "127.0.0.1:0"}, telemetry...), noEnv, &smokeOut, &smokeErr); err != nil {
		t.Fatalf("-smoke: %v\n%s%s", err, smokeOut.String(), smokeErr.String())
	}
	if smokeErr.String() != "" {
		t.Errorf("-smoke wrote to stderr (lost telemetry?):\n%s", smokeErr.String())
	}
	blocked := 0
	for _, s := range corsscenarios.All() {
		if s.Blocked {
			blocked++
		}
		if !strings.Contains(smokeOut.String(), "\n"+s.ID+" ") {
			t.Errorf("-smoke printed no line for %s", s.ID)
		}
	}

	summary := fmt.Sprintf("smoke: a browser would block %d of %d fetches; the server's verdicts are in the trace view: %s\n",
		blocked, len(corsscenarios.All()), blockedURL(sc.UI))
	if !strings.Contains(smokeOut.String(), summary) {
		t.Errorf("-smoke printed no summary %q:\n%s", summary, smokeOut.String())
	}

	// go run ./examples/cors
	runCtx, stopRun := context.WithCancel(ctx)
	out := &syncBuffer{line: make(chan string, 16)}
	var errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, append([]string{"-api-addr", "127.0.0.1:0", "-page-addr", "127.0.0.1:0"}, telemetry...), noEnv, out, &errOut)
	}()
	var banner []string
	for len(banner) < 4 {
		select {
		case l := <-out.line:
			banner = append(banner, l)
		case err := <-done:
			t.Fatalf("the example stopped: %v\n%s", err, errOut.String())
		case <-ctx.Done():
			t.Fatal("the example printed no banner")
		}
	}
	pageURL := field(t, banner[0], "cors: open the page")
	apiURL := field(t, banner[1], "cors: API")
	// The tutorial shows the banner for the default addresses.
	quoted := strings.NewReplacer(apiURL, tutorialAPI, pageURL, tutorialPage, sc.UDP, tutorialtest.SidecarDaemon, sc.EMF, tutorialtest.SidecarEMF, sc.UI, tutorialtest.SidecarView).Replace(strings.Join(banner, "\n"))
	if !strings.Contains(tutorialtest.README(t), "```text\n"+quoted+"\n```") {
		t.Errorf("the tutorial does not show the banner as printed:\n%s", quoted)
	}
	page := get(t, ctx, pageURL+"/", nil)
	if !strings.Contains(page, `"`+apiURL+`"`) || !strings.Contains(page, sc.UI+"/#/traces?annotation=cors_verdict%3Dblocked") {
		t.Errorf("the page does not call %s or link to %s", apiURL, sc.UI)
	}

	// curl -i -X OPTIONS http://127.0.0.1:8090/s3/broken-405 ...
	local := strings.NewReplacer(tutorialAPI, apiURL, tutorialPage, pageURL, tutorialtest.SidecarView, sc.UI)
	status, header, _ := tutorialtest.Curl(t, ctx, local.Replace(cmdCurlAPI))
	if status != http.StatusMethodNotAllowed || header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("replayed preflight: status %d, ACAO %q; the tutorial says 405 without CORS headers", status, header.Get("Access-Control-Allow-Origin"))
	}
	blocked++
	stopRun()
	if err := <-done; err != nil {
		t.Fatalf("the example: %v", err)
	}
	if errOut.String() != "" {
		t.Errorf("the example wrote to stderr:\n%s", errOut.String())
	}

	// curl -s 'http://127.0.0.1:2772/api/traces?annotation=cors_verdict=blocked'
	// The sidecar receives over UDP and TCP: ask until it has everything.
	var list struct {
		Matched int `json:"matched"`
		Traces  []struct {
			URL string `json:"url"`
		} `json:"traces"`
	}
	var cors float64
	pollCtx, cancelPoll := context.WithTimeout(ctx, time.Minute)
	defer cancelPoll()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		_, _, body := tutorialtest.Curl(t, ctx, local.Replace(cmdCurlUI))
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("trace list: %v\n%s", err, body)
		}
		cors = corsBlockedSum(t, ctx, sc.UI)
		if list.Matched >= blocked && cors >= float64(blocked) {
			break
		}
		select {
		case <-tick.C:
		case <-pollCtx.Done():
			t.Fatalf("the view lists %d blocked requests and CORSBlocked sums to %v, want %d", list.Matched, cors, blocked)
		}
	}
	if list.Matched != blocked || cors != float64(blocked) {
		t.Errorf("the view lists %d blocked requests and CORSBlocked sums to %v, want %d", list.Matched, cors, blocked)
	}
}

// corsBlockedSum adds up the CORSBlocked series the local view shows.
func corsBlockedSum(t *testing.T, ctx context.Context, ui string) float64 {
	t.Helper()
	var m struct {
		Series []struct {
			Name   string `json:"name"`
			Points []struct {
				Sum float64 `json:"sum"`
			} `json:"points"`
		} `json:"series"`
	}
	body := get(t, ctx, ui+"/api/metrics?namespace=SidelightExamples&metric=CORSBlocked", nil)
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("metrics: %v\n%s", err, body)
	}
	sum := 0.0
	for _, s := range m.Series {
		if s.Name != "CORSBlocked" {
			continue
		}
		for _, p := range s.Points {
			sum += p.Sum
		}
	}
	return sum
}

func noEnv(string) string { return "" }

// field returns what follows prefix on a banner line.
func field(t *testing.T, line, prefix string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(line, prefix)
	if !ok {
		t.Fatalf("banner line %q does not start with %q", line, prefix)
	}
	return strings.TrimSpace(rest)
}

func get(t *testing.T, ctx context.Context, u string, h http.Header) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, %v", u, resp.StatusCode, err)
	}
	return string(b)
}

// TestTutorialGoSnippetsParse checks that every Go snippet in the tutorial
// is valid Go: declarations, or statements inside a function.
func TestTutorialGoSnippetsParse(t *testing.T) {
	snippets := tutorialtest.Blocks(t, "go")
	if len(snippets) < 8 {
		t.Fatalf("%d Go snippets, want a fix for each scenario", len(snippets))
	}
	for _, src := range snippets {
		fset := token.NewFileSet()
		if _, err := parser.ParseFile(fset, "decl.go", "package p\n"+src, 0); err == nil {
			continue
		}
		if _, err := parser.ParseFile(fset, "stmt.go", "package p\nfunc _() {\n"+src+"\n}", 0); err != nil {
			t.Errorf("snippet is not Go: %v\n%s", err, src)
		}
	}
}
