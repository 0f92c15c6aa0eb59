package sampling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Request is what rules match against.
type Request struct {
	Host        string
	Method      string
	Path        string
	ServiceName string
}

// Rules is a parsed, ready-to-use set of sampling rules. It is safe for
// concurrent use.
type Rules struct {
	rules  []*rule
	def    *rule
	daemon *daemonRules // set by Daemon: its rules, once fetched, decide
}

type rule struct {
	Description string   `json:"description"`
	ID          string   `json:"id"`
	Host        string   `json:"host"`
	ServiceName string   `json:"service_name"`
	HTTPMethod  string   `json:"http_method"`
	URLPath     string   `json:"url_path"`
	FixedTarget *int64   `json:"fixed_target"`
	Rate        *float64 `json:"rate"`

	target int64
	rate   float64
	// The reservoir: requests sampled in the current second.
	second atomic.Int64
	used   atomic.Int64
}

type document struct {
	Version *int    `json:"version"`
	Rules   []*rule `json:"rules"`
	Default *rule   `json:"default"`
}

// Default returns the rules the X-Ray SDKs use when given none: one request
// a second, then 5 % of the rest.
func Default() *Rules {
	return &Rules{def: &rule{target: 1, rate: 0.05}}
}

// Load reads rules from a JSON file.
func Load(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sampling: %w", err)
	}
	return Parse(data)
}

// Parse reads rules from a version 1 or version 2 JSON document. Every rule
// needs a fixed_target >= 0 and a rate between 0 and 1; rules other than the
// default need url_path, http_method and host (version 2) or service_name
// (version 1).
func Parse(data []byte) (*Rules, error) {
	var doc document
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("sampling: rules are not valid JSON: %w", err)
	}
	if doc.Version == nil || (*doc.Version != 1 && *doc.Version != 2) {
		return nil, errors.New("sampling: \"version\" must be 1 or 2")
	}
	if doc.Default == nil {
		return nil, errors.New("sampling: a \"default\" rule is required")
	}
	if err := doc.Default.check("default"); err != nil {
		return nil, err
	}
	if doc.Default.URLPath != "" || doc.Default.HTTPMethod != "" || doc.Default.Host != "" || doc.Default.ServiceName != "" {
		return nil, errors.New("sampling: the default rule takes only fixed_target and rate")
	}
	for i, r := range doc.Rules {
		if r == nil {
			return nil, fmt.Errorf("sampling: rule %d is null", i)
		}
		name := fmt.Sprintf("rule %d", i)
		if r.Description != "" {
			name = fmt.Sprintf("rule %d (%s)", i, r.Description)
		}
		if err := r.check(name); err != nil {
			return nil, err
		}
		if r.URLPath == "" || r.HTTPMethod == "" {
			return nil, fmt.Errorf("sampling: %s needs url_path and http_method", name)
		}
		switch *doc.Version {
		case 1:
			if r.Host != "" {
				return nil, fmt.Errorf("sampling: %s: version 1 rules use service_name, not host", name)
			}
			if r.ServiceName == "" {
				return nil, fmt.Errorf("sampling: %s needs service_name", name)
			}
		case 2:
			if r.ServiceName != "" {
				return nil, fmt.Errorf("sampling: %s: version 2 rules use host, not service_name", name)
			}
			if r.Host == "" {
				return nil, fmt.Errorf("sampling: %s needs host", name)
			}
		}
	}
	return &Rules{rules: doc.Rules, def: doc.Default}, nil
}

func (r *rule) check(name string) error {
	if r.FixedTarget == nil || *r.FixedTarget < 0 {
		return fmt.Errorf("sampling: %s needs a fixed_target of 0 or more", name)
	}
	if r.Rate == nil || !(*r.Rate >= 0 && *r.Rate <= 1) {
		return fmt.Errorf("sampling: %s needs a rate from 0 to 1", name)
	}
	r.target, r.rate = *r.FixedTarget, *r.Rate
	return nil
}

// Shutdown stops the background fetches of rules made by Daemon: a fetch
// in flight is cancelled and waited for (or until ctx ends), and the rules
// fetched so far keep deciding. For other rules it does nothing. The
// middleware's Kit shuts down the rules it made.
func (rs *Rules) Shutdown(ctx context.Context) error {
	if rs.daemon == nil {
		return nil
	}
	return rs.daemon.shutdown(ctx)
}

// Sample reports whether req should be traced, using the first rule that
// matches it (or the default rule) at time now.
func (rs *Rules) Sample(req Request, now time.Time) bool {
	if rs.daemon != nil {
		if fetched := rs.daemon.rules(now); fetched != nil {
			return fetched.Sample(req, now)
		}
	}
	for _, r := range rs.rules {
		if r.matches(&req) {
			return r.take(now)
		}
	}
	return rs.def.take(now)
}

func (r *rule) matches(req *Request) bool {
	if r.Host != "" && !Match(r.Host, req.Host) {
		return false
	}
	if r.ServiceName != "" && !Match(r.ServiceName, req.ServiceName) {
		return false
	}
	return Match(r.HTTPMethod, req.Method) && Match(r.URLPath, req.Path)
}

func (r *rule) take(now time.Time) bool {
	if r.target > 0 {
		sec := now.Unix()
		if cur := r.second.Load(); cur != sec {
			if r.second.CompareAndSwap(cur, sec) {
				r.used.Store(0)
			}
		}
		if r.used.Add(1) <= r.target {
			return true
		}
	}
	return r.rate > 0 && rand.Float64() < r.rate
}

// Match reports whether s matches pattern, where '*' matches any run of
// characters and '?' exactly one, ignoring case (ASCII).
func Match(pattern, s string) bool { return match(pattern, s, nil) }

// match is Match; work, when not nil, counts the loop's steps (for tests:
// at most len(pattern)+1 per byte of s, so linear in s for a rule's
// pattern).
func match(pattern, s string, work *int) bool {
	if pattern == "*" {
		return true
	}
	// Iterative wildcard matching with one backtrack point: linear in
	// practice, and never recursive, so hostile patterns cannot blow the stack.
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if work != nil {
			*work++
		}
		switch {
		case p < len(pattern) && (pattern[p] == '?' || lower(pattern[p]) == lower(s[i])):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			starP, starI = p, i
			p++
		case starP >= 0:
			starI++
			p, i = starP+1, starI
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
