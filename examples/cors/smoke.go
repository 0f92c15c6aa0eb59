package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/seed-c77c9410/sidelight/internal/corsscenarios"
	"github.com/seed-c77c9410/sidelight/middleware/corscheck"
)

// smoke loads the page once, then makes each scenario's requests the way
// Chromium does (the preflight first when one is needed, the request itself
// only when the preflight passes), and prints the verdict for each, worked
// out here with corscheck as the middleware does on the server. It fails
// when a verdict is not the one the scenario expects.
func smoke(ctx context.Context, a *app, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// Like a browser: redirects are answers, not something to follow.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer client.CloseIdleConnections()

	if err := checkPage(ctx, client, a); err != nil {
		return err
	}
	checker, err := corscheck.New(corscheck.WithNeededResponseHeaders(corsscenarios.NeededHeader))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\trequest\tverdict\tcode\treason")
	var errs []error
	nBlocked := 0
	for _, s := range corsscenarios.All() {
		blocked, unreadable := false, false
		for _, q := range browserRequests(s, a.pageURL) {
			req, err := q.build(ctx, a.apiURL)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("smoke: %s: %w", s.ID, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			v, ok := checker.Evaluate(req, resp.StatusCode, resp.Header)
			if !ok {
				return fmt.Errorf("smoke: %s: %s is not a cross-origin request", s.ID, req.Method)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, req.Method, v.Outcome, v.Code, v.Reason)
			if blocks(v, s) {
				blocked = true
				break // the browser stops here
			}
			unreadable = v.Warnings.Has(corscheck.WarnHeaderNotExposed)
		}
		if blocked {
			nBlocked++
		}
		if blocked != s.Blocked {
			errs = append(errs, fmt.Errorf("smoke: %s: blocked=%v, the scenario expects %v", s.ID, blocked, s.Blocked))
		}
		if s.ReadHeader != "" && !blocked && unreadable != s.Unreadable {
			errs = append(errs, fmt.Errorf("smoke: %s: %s unreadable=%v, the scenario expects %v", s.ID, s.ReadHeader, unreadable, s.Unreadable))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "smoke: a browser would block %d of %d fetches; the server's verdicts are in the trace view: %s\n",
		nBlocked, len(corsscenarios.All()), blockedURL(a.view))
	return errors.Join(errs...)
}

// blocks says whether the verdict blocks the scenario's fetch.
func blocks(v corscheck.Verdict, s corsscenarios.Scenario) bool {
	return v.Outcome == corscheck.Blocked || v.Outcome == corscheck.DependsOnCredentials && s.Credentials == "include"
}

func checkPage(ctx context.Context, client *http.Client, a *app) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.pageURL+"/", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("smoke: page: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if err != nil {
		return fmt.Errorf("smoke: page: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"`+a.apiURL+`"`) {
		return fmt.Errorf("smoke: the page (status %d) does not call %s", resp.StatusCode, a.apiURL)
	}
	return nil
}

// browserRequest is one request Chromium sends for a scenario's fetch.
type browserRequest struct {
	method, path, origin string
	header               http.Header
	body                 bool
}

func (q browserRequest) build(ctx context.Context, apiBase string) (*http.Request, error) {
	var body io.Reader
	if q.body {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequestWithContext(ctx, q.method, apiBase+q.path, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range q.header {
		req.Header[k] = vs
	}
	return req, nil
}

// browserRequests lists the requests Chromium makes for s from a page on
// origin: the preflight, when one is needed, then the request itself.
func browserRequests(s corsscenarios.Scenario, origin string) []browserRequest {
	base := func() http.Header {
		h := http.Header{}
		h.Set("Origin", origin)
		// The page and the API differ only by port: same site.
		h.Set("Sec-Fetch-Mode", "cors")
		h.Set("Sec-Fetch-Site", "same-site")
		return h
	}
	var reqs []browserRequest
	if pre, names := s.Preflight(); pre {
		h := base()
		h.Set("Access-Control-Request-Method", s.Method)
		if len(names) > 0 {
			h.Set("Access-Control-Request-Headers", strings.Join(names, ","))
		}
		reqs = append(reqs, browserRequest{method: http.MethodOptions, path: s.Path, origin: origin, header: h})
	}
	h := base()
	for k, v := range s.Headers {
		h.Set(k, v)
	}
	if s.Credentials == "include" {
		h.Set("Cookie", "sid=demo")
	}
	body := s.Method == http.MethodPut || s.Method == http.MethodPost
	return append(reqs, browserRequest{method: s.Method, path: s.Path, origin: origin, header: h, body: body})
}
