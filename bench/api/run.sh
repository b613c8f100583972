#!/usr/bin/env bash
# API benchmark: `secrets-rotation serve` under wrk, in one run:
#   GET /secrets/{name} (ES256 token from a loopback JWKS, cached value)
#   against GET /healthz; then api-lambda's cold start.
# Usage: bench/api/run.sh [duration=15s] [connections=64]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
DUR=${1:-15s}
CONN=${2:-64}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --workspace --bins >/dev/null
scripts/services.sh start >/dev/null
# shellcheck disable=SC1091
. .run/env
WORK=$(mktemp -d)
cleanup() { for p in ${PIDS:-}; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
export AWS_ENDPOINT_URL=$SRS_AWS_ENDPOINT AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
NAME="bench/api-$(date +%s)"
printf 'bench-value-%s' "$RANDOM" | target/release/secrets-rotation create "$NAME" >/dev/null
.venv/bin/python bench/api/tokens.py "$WORK"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
JPORT=$(free_port)
(cd "$WORK" && exec python3 -m http.server -b 127.0.0.1 "$JPORT" >/dev/null 2>&1) &
PIDS="$!"
APORT=$(free_port)
JWT_ISSUER=https://issuer.bench/ JWT_AUDIENCE=secrets-api \
  JWT_JWKS_URL="http://127.0.0.1:$JPORT/jwks.json" ALLOWED_SECRETS='bench/**' \
  CACHE_TTL_SECONDS=300 RUST_LOG=info \
  target/release/secrets-rotation serve --listen "127.0.0.1:$APORT" >"$WORK/serve.out" 2>"$WORK/serve.log" &
PIDS="$PIDS $!"
for _ in $(seq 1 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
BASE="http://127.0.0.1:$APORT"
TOKEN=$(cat "$WORK/token")
ENC=${NAME//\//%2F}
test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/secrets/$ENC")" = 200
wrk -t"${WRK_THREADS:-1}" -c"$CONN" -d2s -H "Authorization: Bearer $TOKEN" "$BASE/secrets/$ENC" >/dev/null  # warm-up
echo "== GET /secrets/{name} (ES256, cached), $CONN connections, $DUR"
wrk -t"${WRK_THREADS:-1}" -c"$CONN" -d"$DUR" --latency -H "Authorization: Bearer $TOKEN" "$BASE/secrets/$ENC" | tee "$WORK/read.txt"
echo "== GET /healthz, $CONN connections, $DUR"
wrk -t"${WRK_THREADS:-1}" -c"$CONN" -d"$DUR" --latency "$BASE/healthz" | tee "$WORK/health.txt"
r=$(awk '/Requests\/sec/ {print $2}' "$WORK/read.txt")
h=$(awk '/Requests\/sec/ {print $2}' "$WORK/health.txt")
echo "== ratio reads/healthz: $(python3 -c "print(f'{$r/$h:.2f}')")  (reads $r/s, healthz $h/s)"
echo "== audit lines written: $(grep -c '"event":"audit"' "$WORK/serve.log")"
if grep -q "bench-value-" "$WORK/serve.log"; then echo "a value reached the log" >&2; exit 1; fi
echo "== api-lambda cold start"
.venv/bin/python bench/api/coldstart.py target/release/api-lambda 30
