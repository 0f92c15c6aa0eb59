// Package compare judges a rollout route by route: it compares the
// requests of a baseline (the version being replaced, or an earlier time
// window) with those of a candidate (the new version, or a later window)
// and gives each route a verdict, pass, fail or not enough data, from
// stated statistical tests, the kind canary-analysis tools use.
//
// # Tests
//
// For each route seen on both sides, three one-sided tests ask whether
// the candidate is worse than the baseline:
//
//   - Latency: the Mann-Whitney U test (Wilcoxon rank-sum) on the
//     latencies, with the normal approximation, average ranks for ties,
//     the tie correction of the variance and a continuity correction of
//     0.5. It asks whether a candidate request tends to take longer than a
//     baseline request, whatever the shape of the distributions.
//   - Fault rate (5xx) and error rate (4xx): the two-proportion z-test
//     with the pooled proportion, when every expected count (n·p and
//     n·(1−p) on each side, p pooled) is at least 5; otherwise Fisher's
//     exact test (the hypergeometric tail), which the normal approximation
//     would misjudge at such counts.
//
// A route fails when any test gives a p-value below Alpha/3 (Bonferroni
// over the three tests, so that a route with no real difference fails
// with probability at most Alpha). It passes otherwise, provided each
// side has at least MinRequests requests on the route; below that the
// verdict is not enough data, whatever the tests say: the normal
// approximations are not used on fewer samples (Config.MinRequests,
// default 30 per side, is the minimum sample size the compare page
// states). A candidate that is better than the baseline passes.
//
// # Cost
//
// Adding a request is constant time. Compare sorts each side's latencies
// of a route once (n log n), and everything else — ranks, tie sums,
// percentiles, the proportion tests — is linear in the requests (Fisher's
// test sums at most as many terms as there are faults or errors).
package compare
