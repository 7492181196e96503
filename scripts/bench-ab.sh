#!/usr/bin/env bash
# Before/after pairs of `herald bench` in the same hour: each scenario runs on binary A, then
# on binary B, then B before A, alternating so that a drift of the machine hits both alike.
# Every run is one JSON line in OUT, tagged with "build" (A's or B's label). Loopback only.
#   scripts/bench-ab.sh A_BIN A_LABEL B_BIN B_LABEL OUT [ROUNDS]
set -euo pipefail
a_bin=$1 a_label=$2 b_bin=$3 b_label=$4 out=$5 rounds=${6:-2}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

one() { # BIN LABEL ARGS...
  local bin=$1 label=$2; shift 2
  : >"$tmp"
  echo "== $label: herald bench $*" >&2
  "$bin" bench --spawn --json-out "$tmp" "$@" >/dev/null || echo "   (exit $?)" >&2
  python3 -c 'import json,sys
for line in open(sys.argv[1]):
    d=json.loads(line); d["build"]=sys.argv[2]; print(json.dumps(d))' "$tmp" "$label" >>"$out"
}

pair() { # round ARGS...
  local round=$1; shift
  if (( round % 2 )); then one "$a_bin" "$a_label" "$@"; one "$b_bin" "$b_label" "$@"
  else one "$b_bin" "$b_label" "$@"; one "$a_bin" "$a_label" "$@"; fi
}

for ((r = 1; r <= rounds; r++)); do
  pair "$r" --scenario throughput --events 20000 --concurrency 64
  pair "$r" --scenario fanout --events 5000 --concurrency 64
  pair "$r" --scenario latency --events 4000 --rate 200
  pair "$r" --scenario isolation --events 4000 --rate 200 --sick error
  pair "$r" --scenario isolation --events 4000 --rate 200 --sick slow
done
