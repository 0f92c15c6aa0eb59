// Package corscheck tells the server what a browser decided about its
// cross-origin response.
//
// A CORS failure is invisible on the server: the handler answers 200 (or a
// gateway answers 502), the browser withholds the response, and the page's
// JavaScript only sees "TypeError: Failed to fetch". corscheck replays the
// browser's side of the exchange. Given the request the server received and
// the status and headers it answered with, [Evaluate] applies the Fetch
// standard's CORS check and CORS-preflight rules the way Chromium does and
// returns a [Verdict]: allowed, blocked or depends-on-credentials, a short
// machine [Code], and a one-line Reason worded like Chromium's console
// message ("No 'Access-Control-Allow-Origin' header is present on the
// requested resource.").
//
// Requests without an Origin header cost a map lookup and allocate nothing,
// so the check can stay on in production. Requests the browser does not
// CORS-check are skipped too: same-origin requests, no-cors requests,
// navigations and WebSocket handshakes, as told by Sec-Fetch-Mode and
// Sec-Fetch-Site or, from browsers that do not send them, by comparing Origin
// with Host and by the Upgrade and Upgrade-Insecure-Requests headers.
//
// The server cannot see the request's credentials mode. A Cookie header
// proves mode "include"; otherwise the engine evaluates both modes and
// reports [DependsOnCredentials] when they disagree, unless the caller
// declares the mode with [WithCredentials].
//
// Besides the blocking verdict, a Verdict carries non-blocking [Warning]s: an
// Access-Control-Allow-Origin that echoes one origin without "Vary: Origin"
// (a shared cache may serve it to another origin), and a response header the
// page needs (see [WithNeededResponseHeaders]) that is not listed in
// Access-Control-Expose-Headers.
//
// Middleware calls [Checker.Evaluate] once the handler has written its
// header, with the status it wrote and the header map as sent; the verdict
// does not change the response. Verdicts follow the Fetch standard, worded as
// Chromium words them; the package's browser tests replay every scenario and
// two dozen edge cases in headless Chromium and compare. Where Chromium
// departs from the standard (Authorization covered by
// "Access-Control-Allow-Headers: *"), the verdict follows the standard and
// its Hint says so.
//
// [Evaluate] takes a net/http request and response headers; [EvaluateEvent]
// takes the header maps of Lambda events (API Gateway REST and HTTP APIs,
// Function URLs, ALB targets). Both share the same engine. Middleware records
// a Verdict on the trace segment with [Verdict.Annotate] and counts blocked
// responses under [MetricBlocked].
package corscheck
