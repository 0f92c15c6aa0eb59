package middleware

import "time"

// requestObserver receives one call per finished request; the RED metrics
// recorder implements it.
type requestObserver interface {
	Observe(route, method string, status int, d time.Duration, traceID string)
}

type metricsConfig struct {
	observer requestObserver
}

func defaultMetricsConfig() metricsConfig { return metricsConfig{} }

func (m *metricsConfig) observe(route, method string, status int, d time.Duration, st *state) {
	if m.observer == nil {
		return
	}
	m.observer.Observe(route, method, status, d, "")
}
