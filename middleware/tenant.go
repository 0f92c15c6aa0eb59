package middleware

import (
	"sync"

	"github.com/seed-c77c9410/sidelight/internal/deployversion"
)

// TenantDimension is the dimension that carries the tenant ID of a
// tenant-isolated Lambda function in the dimension set [Service, TenantID]
// (see [WithMetricsByTenant]).
const TenantDimension = "TenantID"

// DefaultMaxTenants is how many tenants a kit writes [Service, TenantID]
// series for before the least recently seen tenant is retired.
const DefaultMaxTenants = 50

// maxTenantLen bounds a tenant ID written as a dimension value (CloudWatch
// takes 1024 bytes; Lambda's tenant IDs are far shorter).
const maxTenantLen = 256

// WithMetricsByTenant adds, when on, the dimension set [Service, TenantID]
// to the Lambda invocation metrics (Duration, Errors, ColdStart, Timeout
// and the handler's own) of a tenant-isolated function: the latency and
// errors of each tenant. Invocations without a tenant ID keep [Service]
// only. It is off by default, since each tenant is a series CloudWatch
// charges for. The number of tenants a kit writes series for is bounded
// ([DefaultMaxTenants], or max when max > 0): a new tenant retires the
// least recently seen one, and retirements are counted
// ([Kit.TenantStats]) and logged once. The tenant_id annotation and EMF
// property are written either way.
func WithMetricsByTenant(on bool, max int) Option {
	return optionFunc(func(c *config) { c.metrics.byTenant, c.metrics.maxTenants = on, max })
}

// TenantStats says which tenants a kit writes [Service, TenantID] series
// for.
type TenantStats struct {
	// Tenants are the tenants held, most recently seen first.
	Tenants []string
	// Retired counts the tenants dropped to make room for a new one.
	Retired uint64
}

// tenantSet bounds the tenants a kit's metrics carry. The bound is set by
// the first metrics document that needs it.
type tenantSet struct {
	mu      sync.Mutex
	bounded *deployversion.Bounded
	logged  bool
}

// see admits tenant, retiring the least recently seen one when the bound
// is reached; the first retirement is logged.
func (s *tenantSet) see(c *config, tenant string) {
	s.mu.Lock()
	if s.bounded == nil {
		max := c.metrics.maxTenants
		if max < 1 {
			max = DefaultMaxTenants
		}
		s.bounded = deployversion.NewBounded(max)
	}
	old, retired := s.bounded.See(tenant)
	first := retired && !s.logged
	if first {
		s.logged = true
	}
	s.mu.Unlock()
	if first {
		c.logger.Warn("sidelight: metrics by tenant: a new tenant retired the least recently seen (logged once; see Kit.TenantStats)",
			"tenant_id", tenant, "retired", old)
	}
}

func (s *tenantSet) stats() TenantStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bounded == nil {
		return TenantStats{}
	}
	return TenantStats{Tenants: s.bounded.Versions(), Retired: s.bounded.Retired()}
}

// TenantStats returns the tenants the kit's metrics by tenant carry and
// how many were retired.
func (k *Kit) TenantStats() TenantStats { return k.tenants.stats() }

// metricTenant returns the value of the TenantID dimension for an
// invocation of tenant, admitting it to the kit's bounded set, or "" when
// metrics by tenant are off or the invocation has no tenant.
func metricTenant(cfg *config, tenant string) string {
	if !cfg.metrics.byTenant || tenant == "" {
		return ""
	}
	if len(tenant) > maxTenantLen {
		tenant = tenant[:maxTenantLen]
	}
	value := dimensionValue(tenant)
	cfg.kit.tenants.see(cfg, value)
	return value
}
