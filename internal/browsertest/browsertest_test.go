package browsertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The options start a browser that loads a loopback page and runs its
// script.
func TestOptionsStartABrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<title>t</title><script>document.title = "ran"</script>`))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, Options(t)...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if _, err := chromedp.Run(bctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	title, err := Eval[string](bctx, `document.title`)
	if err != nil {
		t.Fatal(err)
	}
	if title != "ran" {
		t.Fatalf("title %q", title)
	}
}

// The console of a started browser has Chromium's CORS message and
// network error for a blocked fetch, and for nothing else.
func TestConsoleOfABlockedFetch(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("no CORS headers")) // to another origin: blocked
	}))
	defer api.Close()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<title>t</title>`))
	}))
	defer page.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bctx, c := Start(ctx, t)
	if _, err := chromedp.Run(bctx, chromedp.Navigate(page.URL)); err != nil {
		t.Fatal(err)
	}
	blocked, other := api.URL+"/data", api.URL+"/other"
	res, err := Eval[string](bctx, `fetch("`+blocked+`").then(() => "fetched", e => String(e))`)
	if err != nil {
		t.Fatal(err)
	}
	if res != FetchFailed {
		t.Errorf("fetch gave %q", res)
	}
	c.WaitBlocked(ctx, t, 1)
	c.WaitLoadFailed(ctx, t, 1)
	want := "Access to fetch at '" + blocked + "' from origin '" + page.URL + "' " + CORSPolicy
	if msg := c.Blocked(blocked); !strings.HasPrefix(msg, want) {
		t.Errorf("CORS message %q, want it to start with %q", msg, want)
	}
	if got := c.Wait(ctx, t, CORSPolicy); !strings.HasPrefix(got, want) {
		t.Errorf("Wait = %q", got)
	}
	if !c.LoadFailed(blocked) || c.LoadFailed(other) || c.Blocked(other) != "" {
		t.Errorf("console: %+v", c.Entries())
	}
	if !c.Has(blocked) || c.Has(other) {
		t.Errorf("Has: %+v", c.Entries())
	}
}
