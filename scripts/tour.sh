#!/usr/bin/env bash
# The README's five-minute tour, runnable: prints every command and its real output.
# Usage: bash scripts/tour.sh [OUT_DIR]   (needs `make test` once, for .venv with the gateway extra)
# Ports: MOCK_PORT (default 9001) and GATEWAY_PORT (default 8080) must be free; both servers must answer
# before the tour goes on (it stops with an error otherwise). To rewrite README.md's blocks from a fresh
# run instead, use `make readme` (scripts/refresh_readme.py).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$ROOT/.venv/bin:$PATH" COLUMNS="${COLUMNS:-100}"
MOCK_PORT="${MOCK_PORT:-9001}" GATEWAY_PORT="${GATEWAY_PORT:-8080}"
OUT="${1:-$(mktemp -d)}"; mkdir -p "$OUT"; cd "$OUT"
run() { echo "\$ $*"; "$@" 2>&1; echo; }
die() { echo "tour.sh: $*" >&2; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_http() {  # URL PID NAME: until URL answers, or the server died, or 15 s passed
  for _ in $(seq 75); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || die "$3 exited before answering $1 (see $OUT/$3.log)"
    sleep 0.2
  done
  die "$3 did not answer $1 within 15 s (see $OUT/$3.log)"
}
for port in "$MOCK_PORT" "$GATEWAY_PORT"; do
  port_free "$port" || die "port $port is in use (set MOCK_PORT / GATEWAY_PORT to free ones)"
done

run computemoat catalog --accelerator H100 --region us-east
run computemoat latency --from London --to aws:us-east-1
run computemoat plan --out plan.json
run computemoat replan plan.json --withdraw gcp
run computemoat export skypilot plan.json -o sky
run cat sky/midsize-pretrain.sky.yaml
run computemoat simulate plan.json --months 3 --seed 1

computemoat mock-backend --port "$MOCK_PORT" >mock.log 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$MOCK_PORT/v1/models" "${pids[-1]}" mock
run computemoat export gateway plan.json -o gateway.yaml --url-template "http://127.0.0.1:$MOCK_PORT"
run computemoat tenants create acme --database-url sqlite:///tour.db
key=$(computemoat keys create --tenant acme --name demo --database-url sqlite:///tour.db | tail -n 1)
run computemoat prices set llama-3.1-70b '*' --prompt-usd-per-mtok 0.6 --completion-usd-per-mtok 2.4 \
  --database-url sqlite:///tour.db
computemoat serve gateway.yaml --port "$GATEWAY_PORT" --database-url sqlite:///tour.db --admin-token s3cret \
  >gateway.log 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$GATEWAY_PORT/healthz" "${pids[-1]}" gateway
run curl -s "localhost:$GATEWAY_PORT/v1/chat/completions" -H "Authorization: Bearer $key" \
  -H "X-User-Region: London" -d '{"model": "llama-3.1-70b", "messages": [{"role": "user", "content": "hello"}]}'
for _ in $(seq 20); do
  curl -s "localhost:$GATEWAY_PORT/v1/chat/completions" -H "Authorization: Bearer $key" -H "X-User-Region: Tokyo" \
    -d '{"model": "llama-3.1-70b", "messages": [{"role": "user", "content": "hello"}]}' >/dev/null
done
run curl -s "localhost:$GATEWAY_PORT/v1/chat/completions" -H "Authorization: Bearer wrong" \
  -d '{"model": "llama-3.1-70b", "messages": []}'
run computemoat usage --tenant acme --month "$(date -u +%Y-%m)" --database-url sqlite:///tour.db
run computemoat invoice --tenant acme --month "$(date -u +%Y-%m)" --database-url sqlite:///tour.db --out invoice.html
