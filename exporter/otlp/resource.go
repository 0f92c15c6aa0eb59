package otlp

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/seed-c77c9410/sidelight/exporter/xray"
	"github.com/seed-c77c9410/sidelight/internal/xrayotel"
)

// A segment's resource depends on its name, origin and aws environment
// block (the same for every segment a process sends) and on the configured
// attributes. resources keeps the last few resources encoded, so that the
// request path copies bytes instead of working them out again.

// resourceAttr is a configured resource attribute (OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES or an option).
type resourceAttr struct{ key, value string }

type resourceEntry struct {
	independent bool
	name        string
	origin      string
	version     string
	env         []byte
	// keys lists the attribute keys the document gave, in order.
	keys []string
	// doc holds the document's attributes as Resource.attributes fields;
	// full adds the configured attributes whose keys the document did not
	// give.
	doc, full []byte
}

const resourceSlots = 4

type resourceCache struct {
	configured []resourceAttr
	slots      [resourceSlots]atomic.Pointer[resourceEntry]
	next       atomic.Uint32
	mu         sync.Mutex // serialises misses
	tr         *xrayotel.Translator
}

func newResourceCache(configured []resourceAttr) *resourceCache {
	tr, _ := xrayotel.New(nil) // the zero Config is valid
	return &resourceCache{configured: configured, tr: tr}
}

// lookup returns the resource of a top-level document. name is the
// sanitized segment name.
func (c *resourceCache) lookup(seg *xray.Segment, name string) *resourceEntry {
	env := seg.AWS.Environment
	origin, version := seg.Origin, seg.ServiceVersion
	if seg.Independent {
		name, origin, version, env = "", "", "", nil
	}
	for i := range c.slots {
		if e := c.slots[i].Load(); e != nil && e.independent == seg.Independent && e.name == name &&
			e.origin == origin && e.version == version && sameBytes(e.env, env) {
			return e
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.build(seg.Independent, name, origin, version, env, !awsEmpty(&seg.AWS))
	c.slots[c.next.Add(1)%resourceSlots].Store(e)
	return e
}

func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	return len(a) == 0 || unsafe.SliceData(a) == unsafe.SliceData(b) || bytes.Equal(a, b)
}

// build works the resource out with the shared translation itself: it
// writes a document holding only what the resource depends on and reads
// it back with xrayotel. This runs once per distinct resource.
func (c *resourceCache) build(independent bool, name, origin, version string, env []byte, hasAWS bool) *resourceEntry {
	e := &resourceEntry{independent: independent, name: name, origin: origin, version: version, env: slices.Clone(env)}
	if !independent {
		for _, withEnv := range []bool{true, false} {
			doc := c.resourceDocument(name, origin, version, env, hasAWS && withEnv)
			ss, err := c.tr.SegmentToSpans(doc)
			if err != nil {
				continue // an environment block that is not JSON is left out
			}
			for _, kv := range ss.Resource.Attributes {
				e.keys = append(e.keys, kv.Key)
				b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(kv)
				e.doc = appendBytes(e.doc, fResourceAttributes, b)
			}
			break
		}
	}
	e.full = slices.Clone(e.doc)
	for _, a := range c.configured {
		if !slices.Contains(e.keys, a.key) {
			e.full = appendStringAttr(e.full, fResourceAttributes, a.key, a.value)
		}
	}
	return e
}

func (c *resourceCache) resourceDocument(name, origin, version string, env []byte, withAWS bool) []byte {
	var s xray.Segment
	s.Name = name
	s.ServiceVersion = version
	s.ID = [8]byte{0, 0, 0, 0, 0, 0, 0, 1}
	s.TraceID = [16]byte{0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	s.Origin = origin
	if withAWS {
		s.AWS.Environment = env
		if len(env) == 0 {
			s.AWS.Retries = 1 // an aws block without an environment
		}
	}
	s.Start = time.Unix(1, 0)
	s.End = s.Start
	return xray.AppendDocument(nil, &s)
}

// awsEmpty reports whether AppendDocument leaves out the aws block.
func awsEmpty(a *xray.AWS) bool {
	return a.Operation == "" && a.Region == "" && a.RequestID == "" && a.TableName == "" &&
		a.QueueURL == "" && a.Retries == 0 && len(a.Environment) == 0
}
