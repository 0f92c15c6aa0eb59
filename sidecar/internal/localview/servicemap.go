package localview

import (
	"slices"
	"strings"
)

type mapNode struct {
	Name      string  `json:"name"`
	Kind      string  `json:"kind"` // client, service, function, remote or aws
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	Throttles int     `json:"throttles"`
	Faults    int     `json:"faults"`
	ErrorRate float64 `json:"error_rate"` // share with an error, throttle or fault
	FaultRate float64 `json:"fault_rate"`
	AvgMS     float64 `json:"avg_ms"`
}

type mapEdge struct {
	From      string  `json:"from"`
	To        string  `json:"to"`
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	Throttles int     `json:"throttles"`
	Faults    int     `json:"faults"`
	ErrorRate float64 `json:"error_rate"`
	AvgMS     float64 `json:"avg_ms"`
}

type serviceMap struct {
	Nodes  []*mapNode `json:"nodes"`
	Edges  []*mapEdge `json:"edges"`
	Traces int        `json:"traces"`
}

type mapStats struct {
	count, failed, errors, throttles, faults int
	totalMS                                  float64
}

func (m *mapStats) add(f flags, dur float64) {
	m.count++
	if f != 0 {
		m.failed++
	}
	if f&flagError != 0 {
		m.errors++
	}
	if f&flagThrottle != 0 {
		m.throttles++
	}
	if f&flagFault != 0 {
		m.faults++
	}
	m.totalMS += dur * 1000
}

// serviceMap builds the map of services from the stored traces: a node per
// segment name and per downstream (remote or aws) subsegment not answered by
// a traced segment, an edge from caller to callee.
func (s *Store) serviceMap() serviceMap {
	type edgeKey struct{ from, to string }
	nodes := map[string]*mapStats{}
	kinds := map[string]string{}
	edges := map[edgeKey]*mapStats{}
	out := serviceMap{Nodes: []*mapNode{}, Edges: []*mapEdge{}}

	s.mu.RLock()
	cut := s.cutoff()
	owner := map[string]*docInfo{}
	answered := map[string]bool{}
	for i := len(s.order) - 1; i >= 0; i-- {
		t := s.order[i]
		if t.recv < cut {
			break
		}
		out.Traces++
		clear(owner)
		clear(answered)
		for _, d := range t.docs {
			owner[d.id] = d
			for _, id := range d.nestedIDs {
				if _, ok := owner[id]; !ok {
					owner[id] = d
				}
			}
			if !d.independent && d.parentID != "" {
				answered[d.parentID] = true
			}
		}
		serviceOf := func(d *docInfo) string {
			for range maxDepth {
				if !d.independent {
					return d.name
				}
				p := owner[d.parentID]
				if p == nil || p == d {
					return ""
				}
				d = p
			}
			return ""
		}
		for _, d := range t.docs {
			p := owner[d.parentID]
			if p == d {
				p = nil
			}
			if !d.independent {
				statOf(nodes, d.name).add(d.flags, d.duration())
				if kinds[d.name] == "" || kinds[d.name] == "service" {
					kinds[d.name] = kindOf(d)
				}
				if p != nil {
					if from := serviceOf(p); from != "" {
						statOf(edges, edgeKey{from, d.name}).add(d.flags, d.duration())
					}
				} else {
					// A root: called by a client outside the traces (or, with
					// a parent_id, by a caller whose segment never arrived).
					statOf(edges, edgeKey{clientNode, d.name}).add(d.flags, d.duration())
					statOf(nodes, clientNode).add(0, 0)
					kinds[clientNode] = "client"
				}
			} else if p == nil {
				// An independent subsegment whose parent never arrived: the
				// Lambda middleware's, under the function segment Lambda
				// sends to X-Ray itself. It stands for its function.
				statOf(nodes, d.name).add(d.flags, d.duration())
				if kinds[d.name] == "" {
					kinds[d.name] = "function"
				}
				statOf(edges, edgeKey{clientNode, d.name}).add(d.flags, d.duration())
				statOf(nodes, clientNode).add(0, 0)
				kinds[clientNode] = "client"
			}
			from := ""
			for _, c := range d.calls {
				if answered[c.id] {
					continue
				}
				if from == "" {
					if from = serviceOf(d); from == "" {
						if p != nil {
							break
						}
						from = d.name // the orphan's function node
					}
				}
				statOf(nodes, c.name).add(c.flags, c.dur)
				if kinds[c.name] == "" {
					kinds[c.name] = c.namespace
				}
				statOf(edges, edgeKey{from, c.name}).add(c.flags, c.dur)
			}
		}
	}
	s.mu.RUnlock()

	for name, st := range nodes {
		n := &mapNode{Name: name, Kind: kinds[name], Count: st.count, Errors: st.errors, Throttles: st.throttles, Faults: st.faults}
		n.ErrorRate = float64(st.failed) / float64(st.count)
		n.FaultRate = float64(st.faults) / float64(st.count)
		n.AvgMS = st.totalMS / float64(st.count)
		out.Nodes = append(out.Nodes, n)
	}
	for k, st := range edges {
		e := &mapEdge{From: k.from, To: k.to, Count: st.count, Errors: st.errors, Throttles: st.throttles, Faults: st.faults}
		e.ErrorRate = float64(st.failed) / float64(st.count)
		e.AvgMS = st.totalMS / float64(st.count)
		out.Edges = append(out.Edges, e)
	}
	slices.SortFunc(out.Nodes, func(a, b *mapNode) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(out.Edges, func(a, b *mapEdge) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.To, b.To)
	})
	return out
}

// clientNode is the map's node for callers outside the traces.
const clientNode = "client"

// kindOf is a segment's node kind: function for a Lambda function,
// service otherwise.
func kindOf(d *docInfo) string {
	if strings.HasPrefix(d.origin, "AWS::Lambda") {
		return "function"
	}
	return "service"
}

func statOf[K comparable](m map[K]*mapStats, k K) *mapStats {
	st := m[k]
	if st == nil {
		st = &mapStats{}
		m[k] = st
	}
	return st
}

// duration in seconds, 0 while in progress.
func (d *docInfo) duration() float64 {
	if d.end <= d.start {
		return 0
	}
	return d.end - d.start
}
