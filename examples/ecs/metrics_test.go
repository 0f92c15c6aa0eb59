package ecs

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/seed-c77c9410/sidelight/exporter/emf/emftest"
	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/exporter/xray/xraytest"
	"github.com/seed-c77c9410/sidelight/internal/cfn"
	"github.com/seed-c77c9410/sidelight/internal/redmetric"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// emitted indexes what the middleware wrote: for each namespace and
// metric, the dimension sets it was declared under (names sorted and
// joined by ","), each with the dimension values seen, and its unit.
type emitted struct {
	sets  map[string]map[string][]map[string]string // ns + "\x00" + metric -> set -> values
	units map[string]string                         // ns + "\x00" + metric -> unit
}

func key(ns, metric string) string { return ns + "\x00" + metric }

func indexEMF(t *testing.T, docs []map[string]any) *emitted {
	t.Helper()
	e := &emitted{sets: map[string]map[string][]map[string]string{}, units: map[string]string{}}
	for _, d := range docs {
		aws, _ := d["_aws"].(map[string]any)
		dirs, _ := aws["CloudWatchMetrics"].([]any)
		for _, dir := range dirs {
			dm, _ := dir.(map[string]any)
			ns, _ := dm["Namespace"].(string)
			dimSets, _ := dm["Dimensions"].([]any)
			metrics, _ := dm["Metrics"].([]any)
			for _, m := range metrics {
				mm, _ := m.(map[string]any)
				name, _ := mm["Name"].(string)
				unit, _ := mm["Unit"].(string)
				k := key(ns, name)
				e.units[k] = unit
				if e.sets[k] == nil {
					e.sets[k] = map[string][]map[string]string{}
				}
				for _, ds := range dimSets {
					names := []string{}
					vals := map[string]string{}
					list, _ := ds.([]any)
					for _, n := range list {
						s, _ := n.(string)
						names = append(names, s)
						vals[s], _ = d[s].(string)
					}
					slices.Sort(names)
					set := strings.Join(names, ",")
					e.sets[k][set] = append(e.sets[k][set], vals)
				}
			}
		}
	}
	return e
}

// check reports whether the middleware emitted metric in ns under exactly
// the dimension names of dims, with those values ("" values: any).
func (e *emitted) check(ns, metric string, dims map[string]string) error {
	sets, ok := e.sets[key(ns, metric)]
	if !ok {
		var have []string
		for k := range e.sets {
			have = append(have, strings.ReplaceAll(k, "\x00", " "))
		}
		slices.Sort(have)
		return fmt.Errorf("metric %q in namespace %q is not emitted (emitted: %q)", metric, ns, have)
	}
	names := slices.Sorted(maps.Keys(dims))
	vals, ok := sets[strings.Join(names, ",")]
	if !ok {
		return fmt.Errorf("metric %s/%s is not emitted with exactly the dimensions %v (it is with %v): CloudWatch would find no data",
			ns, metric, names, slices.Sorted(maps.Keys(sets)))
	}
	for _, v := range vals {
		match := true
		for n, want := range dims {
			match = match && (want == "" || v[n] == want)
		}
		if match {
			return nil
		}
	}
	return fmt.Errorf("metric %s/%s: no emitted value matches %v (emitted %v)", ns, metric, dims, vals)
}

// runMiddleware sends a mix of requests through the middleware with the
// service name and namespace the task definition gives the app, and
// returns what it wrote.
func runMiddleware(t *testing.T, env map[string]string, names middleware.MetricNames) *emitted {
	t.Helper()
	daemon, err := xraytest.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer daemon.Close()
	emitter, err := xray.NewEmitter(xray.WithDaemonAddress(daemon.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer emitter.Shutdown(context.Background())
	sink := emftest.NewSink()
	kit, err := middleware.New(middleware.WithSegmentExporter(emitter), middleware.WithServiceName(env["OTEL_SERVICE_NAME"]),
		middleware.WithMetricsSink(sink), middleware.WithMetricsNamespace(env["AWS_EMF_NAMESPACE"]), middleware.WithMetricNames(names))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "boom":
			w.WriteHeader(500)
		case "busy":
			w.WriteHeader(429)
		case "missing":
			w.WriteHeader(404)
		}
	})
	h := kit.HTTP()(mux)
	for _, p := range []string{"/orders/1", "/orders/boom", "/orders/busy", "/orders/missing", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	if err := kit.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	docs, err := sink.Decoded()
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("the middleware wrote no EMF")
	}
	return indexEMF(t, docs)
}

// metricRef is one metric the template reads.
type metricRef struct {
	where, ns, metric, unit string
	dims                    map[string]string
}

// templateMetricRefs lists the metrics of the alarms and the dashboard.
func templateMetricRefs(t *testing.T, r *cfn.Resolved) []metricRef {
	t.Helper()
	var refs []metricRef
	nAlarms := 0
	for _, name := range slices.Sorted(maps.Keys(r.Resources)) {
		res := r.Resources[name]
		switch res.Type {
		case "AWS::CloudWatch::Alarm":
			nAlarms++
			refs = append(refs, alarmRefs(t, name, res.Properties)...)
		case "AWS::CloudWatch::Dashboard":
			body, _ := res.Properties["DashboardBody"].(string)
			refs = append(refs, dashboardRefs(t, name, body)...)
		}
	}
	if nAlarms < 2 {
		t.Fatalf("%d alarms; want fault rate and p99 latency", nAlarms)
	}
	return refs
}

func dimsOf(t *testing.T, where string, v any) map[string]string {
	out := map[string]string{}
	list, _ := v.([]any)
	for _, d := range list {
		m, _ := d.(map[string]any)
		n, _ := m["Name"].(string)
		val, ok := m["Value"].(string)
		if n == "" || !ok {
			t.Fatalf("%s: bad dimension %v", where, d)
		}
		out[n] = val
	}
	return out
}

func alarmRefs(t *testing.T, name string, p map[string]any) []metricRef {
	if metrics, ok := p["Metrics"].([]any); ok {
		var refs []metricRef
		ids := map[string]bool{}
		var exprs []string
		for i, q := range metrics {
			qm, _ := q.(map[string]any)
			id, _ := qm["Id"].(string)
			ids[id] = true
			where := fmt.Sprintf("%s.Metrics[%d]", name, i)
			if e, ok := qm["Expression"].(string); ok {
				exprs = append(exprs, e)
				continue
			}
			ms, _ := qm["MetricStat"].(map[string]any)
			mt, _ := ms["Metric"].(map[string]any)
			ns, _ := mt["Namespace"].(string)
			mn, _ := mt["MetricName"].(string)
			unit, _ := ms["Unit"].(string)
			refs = append(refs, metricRef{where: where, ns: ns, metric: mn, unit: unit, dims: dimsOf(t, where, mt["Dimensions"])})
		}
		for _, e := range exprs {
			for _, id := range exprIdents(e) {
				if !ids[id] {
					t.Errorf("%s: expression %q uses %q, which is no metric of the alarm", name, e, id)
				}
			}
		}
		return refs
	}
	ns, _ := p["Namespace"].(string)
	mn, _ := p["MetricName"].(string)
	unit, _ := p["Unit"].(string)
	return []metricRef{{where: name, ns: ns, metric: mn, unit: unit, dims: dimsOf(t, name, p["Dimensions"])}}
}

var ident = regexp.MustCompile(`\b[a-z][A-Za-z0-9_]*\b`)

// exprIdents returns the metric ids a math expression uses (function names
// are upper case in CloudWatch metric math).
func exprIdents(e string) []string { return ident.FindAllString(e, -1) }

// searchExpr is SEARCH('{Namespace,Dim,...} MetricName="X" Dim="v"', 'Stat', period).
var searchExpr = regexp.MustCompile(`^SEARCH\('\{([^}]*)\}((?:\s+\w+="[^"]*")*)',\s*'(\w+)',\s*\d+\)$`)
var searchTerm = regexp.MustCompile(`(\w+)="([^"]*)"`)

func dashboardRefs(t *testing.T, name, body string) []metricRef {
	var d struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Title   string  `json:"title"`
				Metrics [][]any `json:"metrics"`
				Alarms  []string
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("%s: DashboardBody is not JSON: %v\n%s", name, err, body)
	}
	var refs []metricRef
	for wi, w := range d.Widgets {
		ids := map[string]bool{}
		var exprs []string
		for mi, m := range w.Properties.Metrics {
			where := fmt.Sprintf("%s widget %d (%s) metric %d", name, wi, w.Properties.Title, mi)
			if len(m) == 0 {
				t.Fatalf("%s: empty", where)
			}
			if opts, ok := m[0].(map[string]any); ok {
				expr, _ := opts["expression"].(string)
				if !strings.HasPrefix(expr, "SEARCH(") {
					exprs = append(exprs, expr)
					continue
				}
				sm := searchExpr.FindStringSubmatch(expr)
				if sm == nil {
					t.Fatalf("%s: cannot read the search expression %q", where, expr)
				}
				schema := strings.Split(sm[1], ",")
				ns := strings.Trim(schema[0], `"`)
				dims := map[string]string{}
				for _, n := range schema[1:] {
					dims[strings.TrimSpace(n)] = ""
				}
				metric := ""
				for _, term := range searchTerm.FindAllStringSubmatch(sm[2], -1) {
					if term[1] == "MetricName" {
						metric = term[2]
					} else if _, ok := dims[term[1]]; ok {
						dims[term[1]] = term[2]
					} else {
						t.Errorf("%s: search term %s is not a dimension of the schema", where, term[0])
					}
				}
				refs = append(refs, metricRef{where: where, ns: ns, metric: metric, dims: dims})
				continue
			}
			// [Namespace, MetricName, Dim1, Value1, ..., {options}]
			var strs []string
			for _, e := range m {
				switch v := e.(type) {
				case string:
					strs = append(strs, v)
				case map[string]any:
					if id, ok := v["id"].(string); ok {
						ids[id] = true
					}
				}
			}
			if len(strs) < 2 || len(strs)%2 != 0 || slices.Contains(strs, "...") || slices.Contains(strs, ".") {
				t.Fatalf("%s: want [namespace, metric, name, value, ...] spelled out, got %v", where, m)
			}
			dims := map[string]string{}
			for i := 2; i < len(strs); i += 2 {
				dims[strs[i]] = strs[i+1]
			}
			refs = append(refs, metricRef{where: where, ns: strs[0], metric: strs[1], dims: dims})
		}
		for _, e := range exprs {
			for _, id := range exprIdents(e) {
				if !ids[id] {
					t.Errorf("%s widget %d: expression %q uses %q, which is no metric id of the widget", name, wi, e, id)
				}
			}
		}
	}
	return refs
}

// TestAlarmsAndDashboardReadEmittedMetrics resolves the template (with
// the default parameters and with others), runs the middleware as the
// task definition configures the app, and checks that every metric the
// alarms and the dashboard read is emitted with that namespace, name,
// dimension set and dimension values.
func TestAlarmsAndDashboardReadEmittedMetrics(t *testing.T) {
	for name, values := range map[string]map[string]string{
		"defaults": with(deployValues),
		"checkout": with(deployValues, "ServiceName", "checkout", "MetricsNamespace", "Shop/Prod"),
	} {
		t.Run(name, func(t *testing.T) {
			r := resolve(t, values)
			env := containerEnv(t, r, "app")
			got := runMiddleware(t, env, middleware.MetricNames{})
			refs := templateMetricRefs(t, r)
			if len(refs) < 8 {
				t.Fatalf("only %d metric references found in the alarms and dashboard", len(refs))
			}
			for _, ref := range refs {
				if _, byVersion := ref.dims[redmetric.Version]; byVersion && !versionDimensionWired {
					continue // TestRollbackAlarmsSelectTheNewVersion checks these until then
				}
				if err := got.check(ref.ns, ref.metric, ref.dims); err != nil {
					t.Errorf("%s: %v", ref.where, err)
				}
				if ref.unit != "" && got.units[key(ref.ns, ref.metric)] != ref.unit {
					t.Errorf("%s: unit %q, but the middleware writes %q", ref.where, ref.unit, got.units[key(ref.ns, ref.metric)])
				}
			}
		})
	}
}

// TestRenamedMetricBreaksTheCheck shows that the check above would catch a
// metric the middleware stopped emitting under the name the alarms use.
func TestRenamedMetricBreaksTheCheck(t *testing.T) {
	r := resolve(t, with(deployValues))
	got := runMiddleware(t, containerEnv(t, r, "app"), middleware.MetricNames{Faults: "ServerErrors"})
	failed := 0
	for _, ref := range templateMetricRefs(t, r) {
		if ref.metric == "Faults" && got.check(ref.ns, ref.metric, ref.dims) != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("renaming Faults went unnoticed")
	}
	// And a dimension set the middleware does not declare is refused.
	if err := got.check("Sidelight/Examples", "Requests", map[string]string{"Service": "orders", "Route": ""}); err == nil {
		t.Fatal("a partial dimension set was accepted")
	}
}
