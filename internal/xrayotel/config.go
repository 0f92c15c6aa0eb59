package xrayotel

import (
	"errors"
	"fmt"
	"strings"

	"github.com/seed-c77c9410/sidelight/internal/xraykey"
)

// Limits X-Ray places on segment documents. The annotation limits are the
// developer guide's ("Annotation requirements"); the document limit is the
// one PutTraceSegments and the X-Ray daemon apply to each document.
const (
	// MaxAnnotations is how many annotations X-Ray keeps per trace. A
	// translator cannot see the whole trace, so it applies the limit per
	// document: attributes past it become metadata.
	MaxAnnotations = 50
	// MaxAnnotationKeyLength is the longest annotation key, in bytes
	// (keys hold only [A-Za-z0-9_]).
	MaxAnnotationKeyLength = xraykey.MaxLength
	// MaxAnnotationValueLength is the longest string annotation value, in
	// Unicode characters.
	MaxAnnotationValueLength = 1000
	// MaxNameLength is the longest segment name, in characters.
	MaxNameLength = 200
	// MaxDocumentBytes is the largest segment document X-Ray accepts.
	MaxDocumentBytes = 64 << 10

	// maxHTTPFieldLength bounds the http request fields and user, as the
	// segment schema does.
	maxHTTPFieldLength = 250
)

// Config says how spans become segment documents.
type Config struct {
	// IndexedAttributes names the span attributes written as annotations;
	// the others become metadata. A resource attribute is indexed when
	// "otel.resource." + its key is listed.
	IndexedAttributes []string
	// IndexAllAttributes writes every span attribute that has a string,
	// number or bool value as an annotation (up to MaxAnnotations).
	IndexAllAttributes bool
	// DefaultServiceName names segments whose resource has no service.name.
	// When it is empty too, the span name is used.
	DefaultServiceName string
}

// Validate reports a configuration that cannot work: an empty indexed key.
func (c *Config) Validate() error {
	for i, k := range c.IndexedAttributes {
		if k == "" {
			return fmt.Errorf("xrayotel: IndexedAttributes[%d] is empty", i)
		}
	}
	return nil
}

// Translator converts between OTLP spans and X-Ray segment documents with
// one Config. It is immutable and safe for concurrent use.
type Translator struct {
	indexAll bool
	indexed  map[string]struct{}
	// indexedResource holds the resource attribute keys whose
	// "otel.resource." form is indexed.
	indexedResource map[string]struct{}
	defaultService  string
}

// New returns a Translator for cfg. A nil cfg means the zero Config.
func New(cfg *Config) (*Translator, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Translator{indexAll: cfg.IndexAllAttributes, defaultService: cfg.DefaultServiceName}
	if len(cfg.IndexedAttributes) > 0 {
		t.indexed = make(map[string]struct{}, len(cfg.IndexedAttributes))
		for _, k := range cfg.IndexedAttributes {
			t.indexed[k] = struct{}{}
			if r, ok := strings.CutPrefix(k, resourceMetadataPrefix); ok {
				if t.indexedResource == nil {
					t.indexedResource = make(map[string]struct{})
				}
				t.indexedResource[r] = struct{}{}
			}
		}
	}
	return t, nil
}

// Errors returned for spans or documents that cannot be translated. They
// are wrapped with detail; test for them with errors.Is.
var (
	ErrTraceID     = errors.New("xrayotel: invalid trace ID")
	ErrSpanID      = errors.New("xrayotel: invalid span ID")
	ErrParentID    = errors.New("xrayotel: invalid parent span ID")
	ErrTooLarge    = errors.New("xrayotel: document larger than X-Ray accepts")
	ErrBadDocument = errors.New("xrayotel: malformed segment document")
)
