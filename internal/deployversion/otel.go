package deployversion

import (
	"fmt"

	"github.com/seed-c77c9410/sidelight/internal/resourceattr"
)

// ResourceAttributesEnv is the OpenTelemetry variable that carries
// resource attributes, among them service.version.
const ResourceAttributesEnv = resourceattr.Env

// ServiceVersionKey is the OpenTelemetry resource attribute of the
// service's version.
const ServiceVersionKey = resourceattr.ServiceVersion

// FromResourceAttributes returns service.version from the value of
// OTEL_RESOURCE_ATTRIBUTES, read by resourceattr.Parse: comma-separated
// key=value members, keys and values trimmed of spaces and percent-decoded
// ('+' stays '+'). When a key appears twice the last value wins. As the
// OpenTelemetry specification asks, a malformed member (one without '=',
// an empty key, a bad percent escape) discards the whole variable: the
// result is the zero Version and an error naming each such member.
func FromResourceAttributes(attrs string) (Version, error) {
	list, err := resourceattr.Parse(attrs)
	if err != nil {
		return Version{}, fmt.Errorf("deployversion: %s: %w", ResourceAttributesEnv, err)
	}
	value, _ := resourceattr.Lookup(list, ServiceVersionKey)
	return newVersion(value, SourceOTel), nil
}
