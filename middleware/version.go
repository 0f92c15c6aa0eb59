package middleware

import (
	"context"
	"sync"

	"github.com/seed-c77c9410/sidelight/internal/deployversion"
	"github.com/seed-c77c9410/sidelight/internal/redmetric"
)

// VersionAnnotation is the segment annotation that carries the running
// version; it is named like the metrics' Version dimension, so that a
// trace and a metric point of one version are found by the same word.
const VersionAnnotation = deployversion.AnnotationKey

// AliasAnnotation holds the Lambda alias an invocation came through (the
// qualifier of the invoked function ARN), when it names an alias.
const AliasAnnotation = "alias"

// WithMetricsByVersion adds, when on, the dimension set [Service, Version]
// to the HTTP request metrics and the Lambda invocation metrics: the rate
// of faults and the latency of each running version, which a canary or
// blue/green rollout is judged on. The default is the environment
// variable SIDELIGHT_METRICS_BY_VERSION ("true" or "1"). The number of
// versions a kit writes series for is bounded (three): a new version
// retires the least recently seen one, and retirements are counted
// ([Kit.VersionStats]) and logged.
func WithMetricsByVersion(on bool) Option {
	return optionFunc(func(c *config) { c.metrics.byVersion = on })
}

// detectVersion resolves the running version from the option and the
// environment, leaving out the ECS task metadata: the kit's environment
// lookup reads that endpoint once, for the segments' origin and the
// version alike (see environment.version).
func (c *config) detectVersion() deployversion.Version {
	getenv := func(k string) string {
		if k == deployversion.ECSMetadataEnv {
			return ""
		}
		return c.getenv(k)
	}
	option := ""
	if c.serviceVersionSet {
		option = c.serviceVersion
	}
	// A malformed OTEL_RESOURCE_ATTRIBUTES is reported by readEnvironment.
	v, _ := deployversion.Detect(context.Background(), option, getenv, nil)
	return v
}

// VersionStats says which versions a kit writes metrics by version for.
type VersionStats struct {
	// Versions are the versions held, most recently seen first.
	Versions []string
	// Retired counts the versions dropped to make room for a new one.
	Retired uint64
}

// versionSet bounds the versions a kit's metrics carry.
type versionSet struct {
	mu      sync.Mutex
	bounded *deployversion.Bounded
	logged  bool
}

func newVersionSet() *versionSet {
	return &versionSet{bounded: deployversion.NewBounded(redmetric.DefaultMaxVersions)}
}

// see admits v as a metric dimension value, retiring the least recently
// seen version when the bound is reached; the first retirement is logged.
func (s *versionSet) see(c *config, v string) {
	s.mu.Lock()
	old, retired := s.bounded.See(v)
	first := retired && !s.logged
	if first {
		s.logged = true
	}
	s.mu.Unlock()
	if first {
		c.logger.Warn("sidelight: metrics by version: a new version retired the least recently seen (logged once; see Kit.VersionStats)",
			"version", v, "retired", old, "max", redmetric.DefaultMaxVersions)
	}
}

func (s *versionSet) stats() VersionStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return VersionStats{Versions: s.bounded.Versions(), Retired: s.bounded.Retired()}
}

// VersionStats returns the versions the kit's metrics by version carry
// and how many were retired.
func (k *Kit) VersionStats() VersionStats { return k.versions.stats() }

// metricVersion returns the value of the Version dimension for a
// document of cfg's metrics, admitting it to the kit's bounded set, or ""
// when metrics by version are off or no version is known (yet: the ECS
// task metadata is read in the background).
func metricVersion(cfg *config, env *environment) string {
	if !cfg.metrics.byVersion {
		return ""
	}
	v := cfg.version
	if !v.Known() && env != nil {
		v = env.version()
	}
	if !v.Known() {
		return ""
	}
	value := dimensionValue(v.Value)
	cfg.kit.versions.see(cfg, value)
	return value
}

// dimensionValue makes a version usable as a CloudWatch dimension value
// (printable ASCII): each other character becomes '_'. Versions are at
// most deployversion.MaxLen bytes, under CloudWatch's 1024.
func dimensionValue(v string) string {
	ok := true
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			ok = false
			break
		}
	}
	if ok {
		return v
	}
	b := make([]byte, 0, len(v))
	for _, r := range v {
		if r < 0x20 || r > 0x7e {
			r = '_'
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// segmentVersion returns the version segments carry: cfg's, else the one
// the environment lookup read from the ECS task metadata, once read.
func segmentVersion(cfg *config, env *environment) string {
	if cfg.version.Known() {
		return cfg.version.Value
	}
	if env != nil {
		return env.version().Value
	}
	return ""
}
