package main

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"
)

// inventory is the downstream HTTP service the function calls. It runs
// behind middleware.HTTP, so its own segments show whether the function
// passed the trace on.
type inventory struct {
	slowDelay time.Duration
	audits    atomic.Int64 // audit records written
	lastTrace atomic.Value // string: the X-Amzn-Trace-Id of the last /stock request
}

func (inv *inventory) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stock", func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("X-Amzn-Trace-Id")
		inv.lastTrace.Store(h)
		writeJSON(w, http.StatusOK, map[string]any{"item": "teapot", "stock": 7, "trace_header_received": h})
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(inv.slowDelay)
		defer t.Stop()
		select {
		case <-t.C:
			writeJSON(w, http.StatusOK, map[string]any{"item": "teapot", "stock": 7})
		case <-r.Context().Done(): // the caller gave up
		}
	})
	mux.HandleFunc("GET /audit", func(w http.ResponseWriter, r *http.Request) {
		// Writing the record takes a moment; a caller that hangs up
		// before then loses it.
		t := time.NewTimer(150 * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			inv.audits.Add(1)
			writeJSON(w, http.StatusOK, map[string]string{"audit": "written"})
		case <-r.Context().Done():
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
