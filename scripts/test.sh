#!/usr/bin/env bash
# Runs every Sidelight test on a fresh machine. It first installs what the
# tests need (headless Chromium for the browser tests, the AWS Lambda Runtime
# Interface Emulator for the Lambda tests), then vets and tests every module
# with the race detector, then gives each fuzz target a short run.
#
#   FUZZTIME=30s ./scripts/test.sh   # longer fuzzing
#   SKIP_FUZZ=1 ./scripts/test.sh    # no fuzzing (a quicker local loop)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Headless Chromium (Debian package) for the chromedp browser tests, and
#    curl, which the tutorials' commands use.
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
if [ -n "$missing" ]; then
  echo "== installing$missing"
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq $missing >/dev/null
fi
export SIDELIGHT_CHROMIUM=${SIDELIGHT_CHROMIUM:-$(command -v chromium)}

# 2. The AWS Lambda Runtime Interface Emulator, built from its Go module at a
#    pinned version.
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
mkdir -p "$root/.cache/bin"
if [ ! -x "$root/.cache/bin/aws-lambda-rie" ]; then
  echo "== building aws-lambda-rie@$RIE_VERSION"
  GOBIN="$root/.cache/bin" go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
fi
export SIDELIGHT_LAMBDA_RIE="$root/.cache/bin/aws-lambda-rie"

# 3. Every module: formatting, vet, tests with the race detector.
modules=$(find . -name go.mod -not -path './.cache/*' -exec dirname {} \; | sort)
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
for mod in $modules; do
  echo "== go vet + go test -race in $mod"
  (cd "$mod" && go vet ./... && go test -race -count=1 -timeout 20m ./...)
done

# 4. A short run of every fuzz target.
if [ -z "${SKIP_FUZZ:-}" ]; then
  fuzztime=${FUZZTIME:-8s}
  for mod in $modules; do
    (cd "$mod"
     for pkg in $(go list ./...); do
       dir=$(go list -f '{{.Dir}}' "$pkg")
       { grep -hoE '^func Fuzz[A-Za-z0-9_]+' "$dir"/*_test.go 2>/dev/null || true; } | sed 's/^func //' | while read -r target; do
         echo "== fuzz $pkg $target ($fuzztime)"
         if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/sidelight-fuzz.log 2>&1; then
           # A real finding always writes its input to testdata/fuzz. The Go
           # fuzzing engine sometimes stops with "context deadline exceeded"
           # and no input when the time runs out mid-run: run once more.
           if grep -q 'context deadline exceeded' /tmp/sidelight-fuzz.log && ! grep -q 'Failing input written' /tmp/sidelight-fuzz.log; then
             echo "   (engine deadline without a finding; running $target again)"
             go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/sidelight-fuzz.log 2>&1 && continue
             if grep -q 'context deadline exceeded' /tmp/sidelight-fuzz.log && ! grep -q 'Failing input written' /tmp/sidelight-fuzz.log; then
               echo "   WARNING: $target stopped twice on the engine's deadline without a finding"
               continue
             fi
           fi
           cat /tmp/sidelight-fuzz.log
           exit 1
         fi
       done
     done)
  done
fi
echo "all tests passed"
