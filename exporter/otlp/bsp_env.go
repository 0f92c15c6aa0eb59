package otlp

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The OpenTelemetry batch span processor's variables, which the exporter
// honours since it batches as that processor does.
const (
	envBSPScheduleDelay  = "OTEL_BSP_SCHEDULE_DELAY"        // ms between sends of a partial batch
	envBSPExportTimeout  = "OTEL_BSP_EXPORT_TIMEOUT"        // ms one batch's export may take, retries included
	envBSPMaxQueueSize   = "OTEL_BSP_MAX_QUEUE_SIZE"        // spans waiting at most
	envBSPMaxExportBatch = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE" // spans per request at most
)

// applyBSPEnvironment reads the OTEL_BSP_* variables for the settings no
// option set. A value that is not a positive integer is an error, as the
// other settings are. As the specification asks, a batch size larger than
// the queue is cut to the queue's size.
func (c *config) applyBSPEnvironment() error {
	read := func(name string) (int, bool, error) {
		v, ok := c.getenv(name)
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > math.MaxInt32 {
			return 0, false, fmt.Errorf("otlp: %s=%q: want a positive integer below 2^31", name, v)
		}
		return n, true, nil
	}
	if n, ok, err := read(envBSPScheduleDelay); err != nil {
		return err
	} else if ok && !c.batchTimeoutSet {
		c.batchTimeout = time.Duration(n) * time.Millisecond
	}
	if n, ok, err := read(envBSPExportTimeout); err != nil {
		return err
	} else if ok {
		c.exportTimeout = time.Duration(n) * time.Millisecond
	}
	if n, ok, err := read(envBSPMaxQueueSize); err != nil {
		return err
	} else if ok && !c.queueSizeSet {
		c.queueSize = n
	}
	if n, ok, err := read(envBSPMaxExportBatch); err != nil {
		return err
	} else if ok && !c.maxBatchSet {
		c.maxBatch = n
	}
	if c.queueSize > 0 && c.maxBatch > c.queueSize {
		c.maxBatch = c.queueSize
	}
	return nil
}
