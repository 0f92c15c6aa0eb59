package tutorialtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestSplitWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "curl -s  'http://h/a?b=c d'\t-i", want: []string{"curl", "-s", "http://h/a?b=c d", "-i"}},
		{in: "a'b c'd ''", want: []string{"ab cd", ""}},
		{in: `curl "http://h"`, bad: true},
		{in: "echo $HOME", bad: true},
		{in: "echo 'open", bad: true},
	} {
		got, err := splitWords(c.in)
		if (err != nil) != c.bad || !c.bad && !slices.Equal(got, c.want) {
			t.Errorf("splitWords(%q) = %q, %v", c.in, got, err)
		}
	}
}

// Curl sends the method, headers and URL the command names, and follows
// no redirect.
func TestCurl(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/elsewhere")
		w.Header().Set("X-Got", r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Origin")+" "+r.Header.Get("Access-Control-Request-Method"))
		w.WriteHeader(http.StatusFound)
		_, _ = w.Write([]byte("moved"))
	}))
	defer srv.Close()
	status, h, body := Curl(t, context.Background(), "curl -i -X OPTIONS "+srv.URL+"/s3?x=1 -H 'Origin: http://page' -H 'Access-Control-Request-Method: PUT'")
	if status != http.StatusFound || h.Get("X-Got") != "OPTIONS /s3?x=1 http://page PUT" || body != "moved" {
		t.Errorf("got %d %q %q", status, h.Get("X-Got"), body)
	}
}
