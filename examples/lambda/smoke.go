package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// smoke runs scenario 4 broken and fixed through the gateway and checks
// the answers a new user should see: API Gateway's 502 without CORS
// headers, then the function's own 404 with them.
func smoke(ctx context.Context, api string, out *syncWriter) error {
	client := &http.Client{Timeout: 30 * time.Second}
	var errs []error
	for _, c := range []struct {
		path   string
		status int
		body   string
		cors   bool
	}{
		{"/error/broken", http.StatusBadGateway, `{"message":"Internal server error"}`, false},
		{"/error/fixed", http.StatusNotFound, `cart c-404 not found`, true},
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+c.path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Origin", "http://127.0.0.1:3001")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		acao := resp.Header.Get("Access-Control-Allow-Origin")
		out.printf("smoke: GET %s -> %d %s (Access-Control-Allow-Origin: %q)\n", c.path, resp.StatusCode, strings.TrimSpace(string(body)), acao)
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.body) || (acao != "") != c.cors {
			errs = append(errs, fmt.Errorf("GET %s: got %d %s with Access-Control-Allow-Origin %q; want %d %s, CORS headers %v", c.path, resp.StatusCode, body, acao, c.status, c.body, c.cors))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	out.printf("smoke: ok\n")
	return nil
}
