#!/usr/bin/env bash
# The project's test command: starts the services the tests need, then runs
# every test (Rust workspace, then the infrastructure checks).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/services.sh start
# shellcheck disable=SC1091
. .run/env
cargo nextest run --workspace --no-fail-fast "$@"
scripts/check-infra.sh
