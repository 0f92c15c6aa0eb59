#!/usr/bin/env bash
# Runs the benchmarks that BENCHMARKS.md quotes, peers side by side in the
# same run, and summarises them with benchstat. Takes a few minutes.
#   COUNT=6 ./scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-6}
out=${OUT:-/tmp/sidelight-bench}
mkdir -p "$out"
GOBIN="$PWD/.cache/bin" go install golang.org/x/perf/cmd/benchstat@latest
bs="$PWD/.cache/bin/benchstat"

(cd peers && go test -run '^$' -bench 'Bare|Sidelight|XRaySDK|OtelHTTP' -benchtime 1s -count "$count" ./httpbench/) > "$out/http.txt"
"$bs" -col .name "$out/http.txt"
(cd peers && go test -run '^$' -bench . -benchtime 2s -count "$count" ./lambdabench/) > "$out/lambda.txt"
"$bs" "$out/lambda.txt"
go test -run '^$' -bench 'Document|Observe' -benchtime 300ms -count "$count" ./exporter/emf/ ./middleware/internal/red/ > "$out/emf.txt"
"$bs" "$out/emf.txt"
go test -run '^$' -bench . -benchtime 300000x -count "$count" ./middleware/corscheck/ > "$out/cors.txt"
"$bs" "$out/cors.txt"
