package sampling

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Refresh intervals of rules fetched from the daemon: the X-Ray SDKs' five
// minutes once it has answered, and ten seconds while it has not (the
// application may start before its sidecar).
const (
	daemonRefresh = 5 * time.Minute
	daemonRetry   = 10 * time.Second
	daemonTimeout = time.Second
	maxRulesBody  = 1 << 20
)

// daemonRules fetches the centralized rules through the daemon.
type daemonRules struct {
	url      string
	client   *http.Client
	ctx      context.Context // cancelled by Shutdown
	cancel   context.CancelFunc
	mu       sync.Mutex // orders starting a fetch and Shutdown
	closed   bool
	wg       sync.WaitGroup
	current  atomic.Pointer[Rules] // nil until the daemon has answered
	next     atomic.Int64          // unix nanoseconds of the next fetch
	inFlight atomic.Bool
	fetches  atomic.Int64
}

// Daemon returns rules fetched from the X-Ray sampling API that a daemon
// serves on TCP at addr (host:port): the Sidelight sidecar, which forwards
// to X-Ray in AWS and in local mode answers with one rule that samples
// every request, or the AWS X-Ray daemon. Until the daemon has answered,
// and for requests when it never does, fallback decides.
//
// The rules are fetched in the background, never on a request's path:
// first when the first request is sampled (building the rules starts
// nothing), then every 5 minutes, or every 10 seconds while the daemon cannot
// be reached (an answer that is an error also waits 5 minutes). Each fetched rule samples at its fixed rate, after a
// reservoir of at most one request a second per process (what the X-Ray
// SDKs borrow before X-Ray assigns them a share of the rule's reservoir;
// this package does not report statistics or ask for a share). Rules
// matching on resource ARN, service type or attributes are skipped, since
// requests carry none of them.
func Daemon(addr string, fallback *Rules) *Rules {
	if fallback == nil {
		fallback = Default()
	}
	d := &daemonRules{url: "http://" + addr + "/GetSamplingRules",
		client: &http.Client{Timeout: daemonTimeout, Transport: &http.Transport{DisableKeepAlives: true}}}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	// The first fetch starts with the first request sampled (next is zero),
	// so building the rules starts no goroutine and touches no network.
	return &Rules{rules: fallback.rules, def: fallback.def, daemon: d}
}

// rules returns the rules to use at now, starting a fetch when due.
func (d *daemonRules) rules(now time.Time) *Rules {
	if now.UnixNano() >= d.next.Load() {
		d.refresh(now)
	}
	return d.current.Load()
}

func (d *daemonRules) refresh(now time.Time) {
	if !d.inFlight.CompareAndSwap(false, true) {
		return
	}
	d.next.Store(now.Add(daemonRetry).UnixNano()) // until this fetch says otherwise
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return // inFlight stays set: no fetch starts again
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer d.inFlight.Store(false)
		d.fetches.Add(1)
		rs, answered, err := d.fetch()
		if answered {
			// Also when it refused (say, X-Ray denied the task's role
			// GetSamplingRules): asking again soon would not help.
			d.next.Store(time.Now().Add(daemonRefresh).UnixNano())
		}
		if err == nil {
			d.current.Store(rs)
		} // else keep what we had

	}()
}

// fetch asks the daemon for its rules; answered reports whether it
// answered at all.
func (d *daemonRules) fetch() (rs *Rules, answered bool, err error) {
	req, err := http.NewRequestWithContext(d.ctx, http.MethodPost, d.url, bytes.NewReader([]byte(`{}`)))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRulesBody+1))
	switch {
	case err != nil:
		return nil, false, err
	case resp.StatusCode != http.StatusOK:
		return nil, true, fmt.Errorf("sampling: daemon answered %s", resp.Status)
	case len(body) > maxRulesBody:
		return nil, true, errors.New("sampling: daemon's rules are over 1 MiB")
	}
	rs, err = ParseSamplingRules(body)
	return rs, true, err
}

// shutdown stops fetching: a fetch in flight is cancelled and waited for,
// and none starts afterwards.
func (d *daemonRules) shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ParseSamplingRules reads the body of an X-Ray GetSamplingRules response
// (what Daemon fetches) into rules, ordered by priority then name. The
// rule named "Default" becomes the default rule; one is required. Rules
// that match on resource ARN, service type or attributes are skipped.
func ParseSamplingRules(body []byte) (*Rules, error) {
	var out struct {
		SamplingRuleRecords []struct {
			SamplingRule *struct {
				RuleName      string
				Priority      int
				FixedRate     *float64
				ReservoirSize *int64
				ServiceName   string
				ServiceType   string
				Host          string
				HTTPMethod    string
				URLPath       string
				ResourceARN   string
				Attributes    map[string]string
			}
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("sampling: GetSamplingRules response is not valid JSON: %w", err)
	}
	type ranked struct {
		priority int
		name     string
		r        *rule
	}
	var list []ranked
	var def *rule
	for i, rec := range out.SamplingRuleRecords {
		sr := rec.SamplingRule
		if sr == nil {
			return nil, fmt.Errorf("sampling: rule record %d has no SamplingRule", i)
		}
		if sr.FixedRate == nil || !(*sr.FixedRate >= 0 && *sr.FixedRate <= 1) || sr.ReservoirSize == nil || *sr.ReservoirSize < 0 {
			return nil, fmt.Errorf("sampling: rule %q needs a FixedRate from 0 to 1 and a ReservoirSize of 0 or more", sr.RuleName)
		}
		r := &rule{Description: sr.RuleName, target: min(*sr.ReservoirSize, 1), rate: *sr.FixedRate}
		if sr.RuleName == "Default" {
			def = r
			continue
		}
		if wild(sr.ResourceARN) != "*" || wild(sr.ServiceType) != "*" || len(sr.Attributes) > 0 {
			continue
		}
		r.ServiceName, r.Host, r.HTTPMethod, r.URLPath = wild(sr.ServiceName), wild(sr.Host), wild(sr.HTTPMethod), wild(sr.URLPath)
		list = append(list, ranked{sr.Priority, sr.RuleName, r})
	}
	if def == nil {
		return nil, errors.New("sampling: GetSamplingRules response has no Default rule")
	}
	slices.SortStableFunc(list, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(a.name, b.name))
	})
	rs := &Rules{def: def}
	for _, x := range list {
		rs.rules = append(rs.rules, x.r)
	}
	return rs, nil
}

// wild is a centralized rule's pattern, where empty means any.
func wild(p string) string {
	if p == "" {
		return "*"
	}
	return p
}
