#!/usr/bin/env bash
# One rotation per rotator: wall time, Secrets Manager calls, login share.
# Usage: bench/rotators/run.sh [runs]   (default 5). See REPORT.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
scripts/services.sh start
# shellcheck disable=SC1091
. .run/env
cargo build --release --workspace --bins --quiet
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 bench/rotation/count_proxy.py "$port" "$SRS_AWS_ENDPOINT" &
proxy_pid=$!
trap 'kill $proxy_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/__count')" 2>/dev/null && break
  sleep 0.1
done
BENCH_RUNS=${1:-5} BENCH_PROXY="http://127.0.0.1:$port" \
  cargo bench --workspace --bench rotators --quiet 2>/dev/null | tee bench/rotators/results.json
