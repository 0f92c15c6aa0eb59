package collector

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/seed-c77c9410/sidelight/internal/fakeaws"
)

// freeAddr returns a loopback TCP address that was free a moment ago, for
// the collector, which does not report the port it bound.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startSidecar builds the sidecar from the main module and runs it in AWS
// mode against fake, returning its OTLP/HTTP address.
func startSidecar(t *testing.T, fake *fakeaws.Server) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sidecar")
	build := exec.Command("go", "build", "-o", bin, "./sidecar")
	build.Dir = filepath.Join("..", "..")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build ./sidecar: %v", err)
	}
	cmd := exec.Command(bin, "-xray-udp-addr", "127.0.0.1:0", "-xray-tcp-addr", "off",
		"-emf-tcp-addr", "off", "-emf-udp-addr", "off", "-status-addr", "127.0.0.1:0", "-ui-addr", "127.0.0.1:0",
		"-otlp-http-addr", "127.0.0.1:0", "-otlp-grpc-addr", "off")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range fake.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg  string         `json:"msg"`
				Info map[string]any `json:"info"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "sidecar started" {
				s, _ := line.Info["addr_otlp_http"].(string)
				addr <- s
			}
		}
	}()
	select {
	case a := <-addr:
		if a == "" {
			t.Fatal("the sidecar logged no OTLP/HTTP address")
		}
		return a
	case <-time.After(60 * time.Second):
		t.Fatal("the sidecar did not start")
	}
	return ""
}

// export sends spans to an OTLP/HTTP endpoint with the OpenTelemetry SDK's
// exporter.
func export(t *testing.T, addr string, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(addr), otlptracehttp.WithInsecure(),
		otlptracehttp.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(ctx, spans); err != nil {
		t.Fatalf("export to %s: %v", addr, err)
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// documents waits until fake holds n documents (or nothing more arrives
// for settle) and returns them by id.
func documents(t *testing.T, fake *fakeaws.Server, n int, settle time.Duration) map[string]map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	_ = fake.WaitFor(ctx, func() bool { return fake.SegmentCount() >= n })
	out := map[string]map[string]any{}
	for _, doc := range fake.Segments() {
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(doc))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, doc)
		}
		id, _ := m["id"].(string)
		if _, dup := out[id]; dup {
			t.Fatalf("document %s sent twice", id)
		}
		out[id] = m
	}
	return out
}

// flatten writes every leaf of v into out under its path: object members
// as .key (["key"] when the key holds a dot), array elements as [i].
func flatten(prefix string, v any, out map[string]any) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			out[prefix] = "{}"
		}
		for k, e := range v {
			p := prefix + "." + k
			if strings.ContainsAny(k, ".[]") {
				p = fmt.Sprintf("%s[%q]", prefix, k)
			}
			if prefix == "" {
				p = strings.TrimPrefix(p, ".")
			}
			flatten(p, e, out)
		}
	case []any:
		if len(v) == 0 {
			out[prefix] = "[]"
		}
		for i, e := range v {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	default:
		out[prefix] = v
	}
}

// same says whether two leaves are equal: numbers by value, times
// (start_time, end_time, exception times) to the microsecond.
func same(path string, a, b any) bool {
	na, aok := a.(json.Number)
	nb, bok := b.(json.Number)
	if aok && bok {
		fa, _ := na.Float64()
		fb, _ := nb.Float64()
		if strings.HasSuffix(path, "_time") {
			return math.Abs(fa-fb) < 1e-6
		}
		return fa == fb
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// difference is one field that differs between the two outputs.
type difference struct {
	Field string // path, array indices as []
	Kind  string // "sidecar only", "collector only", "values differ"
}

// compare pairs the documents by id and returns, for each differing
// field, the names of the spans (documents) where it differs, and an
// example of each side's value.
func compare(sidecar, collector map[string]map[string]any, names map[string]string, detail *[]string) (map[difference][]string, map[difference][2]string) {
	diffs := map[difference][]string{}
	examples := map[difference][2]string{}
	add := func(d difference, span string, a, b any) {
		if list := diffs[d]; len(list) > 0 && list[len(list)-1] == span {
			return
		}
		diffs[d] = append(diffs[d], span)
		if detail != nil {
			*detail = append(*detail, fmt.Sprintf("%s | %s | %s | %s | %s", span, d.Field, d.Kind, short(a), short(b)))
		}
		if _, ok := examples[d]; !ok {
			examples[d] = [2]string{short(a), short(b)}
		}
	}
	ids := map[string]bool{}
	for id := range sidecar {
		ids[id] = true
	}
	for id := range collector {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		span := names[id]
		s, c := sidecar[id], collector[id]
		switch {
		case s == nil:
			add(difference{"(document)", "collector only"}, span, nil, "sent")
			continue
		case c == nil:
			add(difference{"(document)", "sidecar only"}, span, "sent", nil)
			continue
		}
		fs, fc := map[string]any{}, map[string]any{}
		flatten("", s, fs)
		flatten("", c, fc)
		for p, a := range fs {
			field := indexes.ReplaceAllString(p, "[]")
			b, ok := fc[p]
			switch {
			case !ok:
				add(difference{field, "sidecar only"}, span, a, nil)
			case !same(p, a, b):
				add(difference{field, "values differ"}, span, a, b)
			}
		}
		for p, b := range fc {
			if _, ok := fs[p]; !ok {
				add(difference{indexes.ReplaceAllString(p, "[]"), "collector only"}, span, nil, b)
			}
		}
	}
	for d := range diffs {
		sort.Strings(diffs[d])
	}
	return diffs, examples
}

func short(v any) string {
	if v == nil {
		return "—"
	}
	s := fmt.Sprint(v)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func TestSameSpansBothWays(t *testing.T) {
	spans, _ := testSpans()
	names := map[string]string{}
	for _, s := range spans {
		names[s.SpanContext().SpanID().String()] = s.Name()
	}

	sideFake := fakeaws.New()
	defer sideFake.Close()
	side := startSidecar(t, sideFake)
	export(t, side, spans)

	colFake := fakeaws.New()
	defer colFake.Close()
	colFake.SetEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := freeAddr(t)
	stop, err := Start(ctx, Config{OTLPHTTPAddr: addr, XRayEndpoint: colFake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	export(t, addr, spans)

	sdocs := documents(t, sideFake, len(spans), 20*time.Second)
	// The collector drops the span whose trace ID has no time prefix:
	// wait for the others, and a batch timeout more for anything late.
	cdocs := documents(t, colFake, len(spans)-1, 20*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	cdocs = documents(t, colFake, len(spans)-1, time.Millisecond)
	if len(sdocs) != len(spans) {
		t.Fatalf("the sidecar sent %d documents for %d spans", len(sdocs), len(spans))
	}
	if sideFake.Unsigned() != 0 || colFake.Unsigned() != 0 {
		t.Fatalf("unsigned requests: sidecar %d, collector %d", sideFake.Unsigned(), colFake.Unsigned())
	}

	var detail []string
	diffs, examples := compare(sdocs, cdocs, names, &detail)
	want, err := documentedDifferences("DIFFERENCES.md")
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	keys := make([]difference, 0, len(diffs))
	for d := range diffs {
		keys = append(keys, d)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Field != keys[j].Field {
			return keys[i].Field < keys[j].Field
		}
		return keys[i].Kind < keys[j].Kind
	})
	for _, d := range keys {
		fmt.Fprintf(&table, "| `%s` | %s | %s | `%s` | `%s` |\n", d.Field, d.Kind, strings.Join(diffs[d], ", "), examples[d][0], examples[d][1])
	}
	for _, d := range keys {
		got := strings.Join(diffs[d], ", ")
		if w, ok := want[d]; !ok {
			t.Errorf("undocumented difference: %s (%s) in %s", d.Field, d.Kind, got)
		} else if w != got {
			t.Errorf("%s (%s): differs in %s; DIFFERENCES.md says %s", d.Field, d.Kind, got, w)
		}
	}
	for d := range want {
		if _, ok := diffs[d]; !ok {
			t.Errorf("DIFFERENCES.md lists %s (%s), which no longer differs", d.Field, d.Kind)
		}
	}
	if t.Failed() {
		t.Logf("the differences found (field | kind | spans | sidecar | collector):\n%s", table.String())
		t.Logf("each (span | field | kind | sidecar | collector):\n%s", strings.Join(detail, "\n"))
	}
}

// documentedDifferences reads the table of DIFFERENCES.md: rows whose
// first cell is a field in backquotes, then the kind and the spans.
func documentedDifferences(path string) (map[difference]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[difference]string{}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		d := difference{strings.Trim(strings.TrimSpace(cells[1]), "`"), strings.TrimSpace(cells[2])}
		if _, dup := out[d]; dup {
			return nil, fmt.Errorf("%s: %s (%s) listed twice", path, d.Field, d.Kind)
		}
		out[d] = strings.TrimSpace(cells[3])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no table rows", path)
	}
	return out, nil
}

var indexes = regexp.MustCompile(`\[\d+\]`)
