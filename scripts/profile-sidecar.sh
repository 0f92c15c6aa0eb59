#!/usr/bin/env bash
# Where the sidecar's CPU goes under load: runs the load command (800,000
# SDK-style segments at 100,000/s, no EMF), records every CPU with
# `perf record -a -g` for 6 s in the middle of it, and prints the
# sidecar's samples grouped by the outermost recognisable frame of their
# stacks. Needs perf and permission to profile the whole system (root).
#
#   ./scripts/profile-sidecar.sh [extra sidelight-load flags]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "perf is not installed" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/load" ./sidecar/internal/loadtest/cmd/sidelight-load
"$tmp/load" -n 800000 -rate 100000 -emf 0 "$@" >"$tmp/load.out" 2>&1 &
load=$!
sleep 2
perf record -a -g -F 2000 -o "$tmp/perf.data" -- sleep 6 >/dev/null 2>&1
wait "$load"
head -1 "$tmp/load.out"
perf script -i "$tmp/perf.data" -F comm,ip,sym 2>/dev/null | awk '
/^sidecar / { in_sidecar = 1; stack = ""; next }
/^[^ \t]/   { in_sidecar = 0; next }
NF == 0 {
  if (in_sidecar) {
    b = "other"
    if      (stack ~ /rawReader\).recv/)                           b = "UDP receive (recvmmsg)"
    else if (stack ~ /xrayudp.\(\*Receiver\).handle/)              b = "JSON check and queueing"
    else if (stack ~ /rawReader\).read|rawReader\).next/)          b = "reader, other (pauses, epoll)"
    else if (stack ~ /sha256/)                                     b = "SHA-256 of request bodies (SigV4)"
    else if (stack ~ /appendDocString|AppendString/)              b = "escaping documents into the body"
    else if (stack ~ /writeLoop/)                                  b = "net/http write loop and TCP send"
    else if (stack ~ /readLoop/)                                   b = "net/http read loop"
    else if (stack ~ /PutTraceSegments/)                           b = "AWS SDK PutTraceSegments, other"
    else if (stack ~ /gcBgMarkWorker|bgsweep|bgscavenge|gcDrain/) b = "garbage collection (background)"
    else if (stack ~ /sender\.|segments\.\(\*Pipeline\)/)         b = "send workers, other"
    else if (stack ~ /runtime\.(schedule|findRunnable|mcall|park_m|mstart|sysmon|stopm|startm|wakep)/) b = "Go scheduler"
    count[b]++; total++
  }
  in_sidecar = 0; next
}
{ if (in_sidecar) stack = stack " " $2 }
END {
  for (b in count) printf "%5.1f %%  %s\n", 100 * count[b] / total, b | "sort -rn"
  close("sort -rn")
  printf "(%d samples of the sidecar)\n", total
}'
