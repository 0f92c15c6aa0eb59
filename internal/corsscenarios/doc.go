// Package corsscenarios is an HTTP API that gets CORS wrong in the nine ways
// Sidelight's CORS verdicts are meant to explain, each beside a fixed
// variant, and a page that calls it from another origin with fetch().
//
// The routes are /s1/... to /s9/... (see All for the list and what each
// page request does). Server serves them (New can point scenario 2's
// gateway routes at a real upstream); Page and NewPage serve the calling
// page, with one button per scenario. The corscheck browser test drives
// both with headless Chromium and checks that corscheck's server-side
// verdicts match what the browser decided; examples/cors serves them,
// instrumented with Sidelight, for its tutorial.
package corsscenarios
