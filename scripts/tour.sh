#!/usr/bin/env bash
# The README's five-minute tour, runnable: prints every command and its real output.
# Usage: bash scripts/tour.sh [OUT_DIR]   (needs `make demo` once, for .venv)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$ROOT/.venv/bin:$PATH" COLUMNS="${COLUMNS:-100}"
OUT="${1:-$(mktemp -d)}"; mkdir -p "$OUT"; cd "$OUT"
run() { echo "\$ $*"; "$@" 2>&1; echo; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

run computemoat catalog --accelerator H100 --region us-east
run computemoat latency --from London --to aws:us-east-1
run computemoat plan --out plan.json
run computemoat replan plan.json --withdraw gcp
run computemoat export skypilot plan.json -o sky
run cat sky/frontier-pretrain.sky.yaml
run computemoat simulate plan.json --months 3 --seed 1

computemoat mock-backend --port 9001 --latency-ms 5 >/dev/null 2>&1 & pids+=($!)
run computemoat export gateway plan.json -o gateway.yaml --url-template "http://127.0.0.1:9001"
computemoat tenants create acme --database-url sqlite:///tour.db >/dev/null
computemoat prices set llama-3.1-70b '*' --prompt-usd-per-mtok 0.6 --completion-usd-per-mtok 2.4 \
  --database-url sqlite:///tour.db >/dev/null
key=$(computemoat keys create --tenant acme --name demo --database-url sqlite:///tour.db | tail -n 1)
computemoat serve gateway.yaml --port 8080 --database-url sqlite:///tour.db --admin-token s3cret >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs localhost:8080/healthz >/dev/null && break; sleep 0.2; done
run curl -s localhost:8080/v1/chat/completions -H "Authorization: Bearer $key" -H "X-User-Region: London" \
  -d '{"model": "llama-3.1-70b", "messages": [{"role": "user", "content": "hello"}]}'
for _ in $(seq 20); do
  curl -s localhost:8080/v1/chat/completions -H "Authorization: Bearer $key" -H "X-User-Region: Tokyo" \
    -d '{"model": "llama-3.1-70b", "messages": [{"role": "user", "content": "hello"}]}' >/dev/null
done
run curl -s localhost:8080/v1/chat/completions -H "Authorization: Bearer wrong" \
  -d '{"model": "llama-3.1-70b", "messages": []}'
run computemoat usage --tenant acme --month "$(date +%Y-%m)" --database-url sqlite:///tour.db
run computemoat invoice --tenant acme --month "$(date +%Y-%m)" --database-url sqlite:///tour.db --out invoice.html
