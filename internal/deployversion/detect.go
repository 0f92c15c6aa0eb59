package deployversion

import (
	"context"
	"errors"
	"net/http"
	"os"
)

// ECSMetadataEnv is the variable ECS sets to the task metadata endpoint v4
// in every container.
const ECSMetadataEnv = "ECS_CONTAINER_METADATA_URI_V4"

// Detect resolves the running version from all sources, in the order of
// precedence of the package documentation: option (empty when no option
// is set), then, read with getenv (os.Getenv when nil),
// OTEL_RESOURCE_ATTRIBUTES, AWS_LAMBDA_FUNCTION_VERSION and the ECS task
// metadata (fetched with client within ctx; see FetchECS for a nil client).
// It stops at the first source that yields a version, so the metadata
// endpoint is only asked when nothing above answers. Errors of the
// sources it read are joined; a version found by a later source is still
// returned with them.
func Detect(ctx context.Context, option string, getenv func(string) string, client *http.Client) (Version, error) {
	if v := Explicit(option); v.Known() {
		return v, nil
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	if attrs := getenv(ResourceAttributesEnv); attrs != "" {
		v, err := FromResourceAttributes(attrs)
		if v.Known() {
			return v, nil
		}
		errs = append(errs, err)
	}
	if v := FromLambda(ctx, getenv).Version(); v.Known() {
		return v, errors.Join(errs...)
	}
	if base := getenv(ECSMetadataEnv); base != "" {
		e, err := FetchECS(ctx, client, base)
		errs = append(errs, err)
		return e.Version(), errors.Join(errs...)
	}
	return Version{}, errors.Join(errs...)
}
