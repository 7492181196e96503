#!/usr/bin/env bash
# Runs every `herald bench` scenario of docs/benchmarks.md on this machine and appends one
# JSON line per run to ${1:-bench-results.jsonl}. Loopback only; spawns its own servers.
# PostgreSQL runs use a fresh database on 127.0.0.1:5432 (user postgres), dropped after.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-results.jsonl}
bin=target/release/herald
cargo build --release --quiet

run() { echo "== herald bench $*" >&2; "$bin" bench --spawn --json-out "$out" "$@" >/dev/null; }

run --scenario throughput --events 20000 --concurrency 64 --baseline
run --scenario fanout --events 5000 --concurrency 64 --baseline
run --scenario latency --events 4000 --rate 200
run --scenario isolation --events 4000 --rate 200 --sick slow
run --scenario isolation --events 4000 --rate 200 --sick error
run --scenario backlog --events 100000 --endpoints 10 --drain-timeout 600s

db="herald_bench_$$"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
trap 'psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
run --scenario throughput --events 20000 --concurrency 64 --database-url "postgres://postgres@127.0.0.1:5432/$db"
