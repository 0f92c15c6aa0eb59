package localview

import (
	"cmp"
	"encoding/json"
	"net/url"
	"slices"
	"strings"

	"github.com/seed-c77c9410/sidelight/internal/deployversion"
)

// Versions and routes of segments.
//
// A segment's version is, in order of precedence:
//
//  1. its own annotation named deployversion.AnnotationKey ("Version"),
//     which Sidelight's middleware writes from the version it resolved
//     (an option, OTEL_RESOURCE_ATTRIBUTES, the Lambda function version or
//     the ECS task definition);
//  2. its service block's version (service.version in the X-Ray segment
//     document), which X-Ray SDKs and plugins may set.
//
// The annotation wins because it is the value the middleware chose on
// purpose, and it is the one the metrics by version carry. Only the
// segment's own annotations count, not its subsegments'. Independent
// subsegments have no version. A version is cleaned and cut to
// deployversion.MaxLen bytes as the middleware does.
//
// A segment's route is its "route" annotation (the pattern the middleware
// writes, middleware.RouteAnnotation), else the request's method and URL
// path, else empty.

// routeAnnotation is middleware.RouteAnnotation (a test checks they agree).
const routeAnnotation = "route"

// maxRouteLen caps the route kept per segment.
const maxRouteLen = 256

// versionAndRoute reads d's version and route; di holds the request
// already read from d's http block.
func (d *segDoc) versionAndRoute(di *docInfo) (version, route string) {
	if di.independent {
		return "", routeOf("", di)
	}
	var ann struct {
		Version json.RawMessage `json:"Version"`
		Route   json.RawMessage `json:"route"`
	}
	if len(d.Annotations) > 0 {
		_ = json.Unmarshal(d.Annotations, &ann) // a bad block was kept as is; it names nothing
	}
	if len(ann.Version) > 0 && string(ann.Version) != "null" {
		version = annotationText(ann.Version)
	}
	if version == "" && len(d.Service) > 0 {
		var svc struct {
			Version json.RawMessage `json:"version"`
		}
		if json.Unmarshal(d.Service, &svc) == nil && len(svc.Version) > 0 && string(svc.Version) != "null" {
			version = annotationText(svc.Version)
		}
	}
	version = deployversion.Explicit(version).Value
	var r string
	if len(ann.Route) > 0 && ann.Route[0] == '"' {
		r = annotationText(ann.Route)
	}
	return version, routeOf(r, di)
}

func routeOf(annotated string, di *docInfo) string {
	r := annotated
	if r == "" && (di.method != "" || di.url != "") {
		path := di.url
		if u, err := url.Parse(di.url); err == nil && (u.Path != "" || u.Host != "") {
			path = u.Path
			if path == "" {
				path = "/"
			}
		} else if i := strings.IndexAny(path, "?#"); i >= 0 {
			path = path[:i]
		}
		r = strings.TrimSpace(di.method + " " + path)
	}
	if len(r) > maxRouteLen {
		r = strings.ToValidUTF8(r[:maxRouteLen], "")
	}
	return r
}

// Deployment is the first appearance of a version of a service in the
// traffic: a deployment marker.
type Deployment struct {
	Service string `json:"service"`
	Version string `json:"version"`
	// FirstSeen and LastSeen are the start times (epoch seconds) of the
	// earliest and latest segments of this version seen.
	FirstSeen float64 `json:"first_seen"`
	LastSeen  float64 `json:"last_seen"`
	// Segments counts the segments of this version received.
	Segments uint64 `json:"segments"`
	// Previous is the version of the service first seen before this one,
	// if any is still recorded.
	Previous string `json:"previous,omitempty"`
}

// MaxDeployments bounds the deployment markers a store keeps: when a new
// version appears and the list is full, the marker first seen earliest is
// dropped and counted.
const MaxDeployments = 256

type deployKey struct{ service, version string }

// deployments records the versions of each service seen in the traffic.
// The store's lock guards it.
type deployments struct {
	byKey   map[deployKey]*Deployment
	dropped uint64
}

// see records segment d. It costs a map lookup, and a scan of the
// (bounded) list when a new version arrives on a full list.
func (ds *deployments) see(d *docInfo) {
	if d.version == "" || d.independent {
		return
	}
	k := deployKey{d.name, d.version}
	if m := ds.byKey[k]; m != nil {
		m.FirstSeen = min(m.FirstSeen, d.start)
		m.LastSeen = max(m.LastSeen, d.start)
		m.Segments++
		return
	}
	if ds.byKey == nil {
		ds.byKey = make(map[deployKey]*Deployment)
	}
	if len(ds.byKey) >= MaxDeployments {
		var oldest *Deployment
		for _, m := range ds.byKey {
			if oldest == nil || m.FirstSeen < oldest.FirstSeen {
				oldest = m
			}
		}
		delete(ds.byKey, deployKey{oldest.Service, oldest.Version})
		ds.dropped++
	}
	ds.byKey[k] = &Deployment{Service: d.name, Version: d.version, FirstSeen: d.start, LastSeen: d.start, Segments: 1}
}

// list returns the markers of service (all services when empty), by
// service and then first appearance, each with the version before it.
func (ds *deployments) list(service string) []Deployment {
	out := make([]Deployment, 0, len(ds.byKey))
	for _, m := range ds.byKey {
		if service == "" || m.Service == service {
			out = append(out, *m)
		}
	}
	slices.SortFunc(out, func(a, b Deployment) int {
		return cmp.Or(strings.Compare(a.Service, b.Service), cmp.Compare(a.FirstSeen, b.FirstSeen), strings.Compare(a.Version, b.Version))
	})
	for i := 1; i < len(out); i++ {
		if out[i].Service == out[i-1].Service {
			out[i].Previous = out[i-1].Version
		}
	}
	return out
}

// deploymentList is what /api/deployments returns.
type deploymentList struct {
	Deployments []Deployment `json:"deployments"`
	// Dropped counts markers dropped to stay within MaxDeployments.
	Dropped uint64 `json:"dropped"`
	Max     int    `json:"max"`
}

// Deployments returns the deployment markers of service (of every service
// when service is empty).
func (s *Store) Deployments(service string) []Deployment {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.deploys.list(service)
}

func (s *Store) deploymentList(service string) deploymentList {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return deploymentList{Deployments: s.deploys.list(service), Dropped: s.deploys.dropped, Max: MaxDeployments}
}
