#!/usr/bin/env bash
# Builds the two Lambda zips that infra/ deploys:
#   target/lambda/rotation-lambda/bootstrap.zip
#   target/lambda/api-lambda/bootstrap.zip
#
# cargo-lambda comes from PyPI (`pip install cargo-lambda`, which also brings
# zig through the `ziglang` package) into .venv-lambda/. It cross-links with
# zig (cargo-zigbuild) against an explicit old glibc, so the binaries run on
# provided.al2023 (Amazon Linux 2023 ships glibc 2.34). After the build the
# script checks the highest GLIBC_ symbol version each bootstrap references
# and fails above MAX_GLIBC.
#
# Environment:
#   GLIBC_TARGET  glibc version to link against   (default 2.17)
#   MAX_GLIBC     highest glibc version allowed    (default 2.34, AL2023)
#   MAX_ZIP_MB    zip size warning threshold (MB)  (default 10)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
GLIBC_TARGET="${GLIBC_TARGET:-2.17}"
MAX_GLIBC="${MAX_GLIBC:-2.34}"
MAX_ZIP_MB="${MAX_ZIP_MB:-10}"
BINS=(rotation-lambda api-lambda)
LAMBDA_REQS="cargo-lambda==1.9.2"
VENV=.venv-lambda

if [[ ! -x "$VENV/bin/cargo-lambda" || ! -f "$VENV/.requirements" || "$(cat "$VENV/.requirements")" != "$LAMBDA_REQS" ]]; then
  echo "==> installing $LAMBDA_REQS (with ziglang) into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$LAMBDA_REQS"
  printf '%s' "$LAMBDA_REQS" >"$VENV/.requirements"
fi

# cargo-lambda is a cargo subcommand (`cargo lambda`); cargo-zigbuild finds zig
# through `python3 -m ziglang`, so the venv's bin must come first in PATH.
export PATH="$ROOT/$VENV/bin:$PATH"
echo "==> $(cargo-lambda lambda --version)"

# --target x86_64-unknown-linux-gnu.<glibc> is `--x86-64` with the glibc
# version made explicit (zig links against that glibc's symbol versions);
# --compiler cargo-zigbuild guards against CARGO_LAMBDA_COMPILER=cargo, which
# would link against the build machine's (newer) glibc.
build_args=(
  --release
  --compiler cargo-zigbuild
  --target "x86_64-unknown-linux-gnu.${GLIBC_TARGET}"
  --output-format zip
)
for bin in "${BINS[@]}"; do
  build_args+=(--bin "$bin")
done
echo "==> cargo lambda build ${build_args[*]}"
cargo lambda build "${build_args[@]}"

# version_le A B: true when version A <= version B.
version_le() {
  [[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" == "$1" ]]
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
status=0
printf '\n%-18s %12s %10s %s\n' "function" "zip bytes" "zip MB" "max GLIBC"
for bin in "${BINS[@]}"; do
  zip="target/lambda/$bin/bootstrap.zip"
  if [[ ! -f "$zip" ]]; then
    echo "missing $zip" >&2
    status=1
    continue
  fi
  mkdir -p "$tmp/$bin"
  "$PYTHON" - "$zip" "$tmp/$bin" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = z.namelist()
    assert "bootstrap" in names, f"no bootstrap in {sys.argv[1]}: {names}"
    z.extract("bootstrap", sys.argv[2])
PY
  elf="$tmp/$bin/bootstrap"
  # Highest GLIBC_x.y symbol version referenced (dynamic symbols and version
  # needs); empty for a static binary.
  max_glibc="$( { objdump -T "$elf" 2>/dev/null || true; readelf -V --wide "$elf" 2>/dev/null || true; } |
    grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/^GLIBC_//' | sort -V | tail -n1 || true)"
  bytes="$(stat -c %s "$zip")"
  mb="$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }')"
  printf '%-18s %12s %10s %s\n' "$bin" "$bytes" "$mb" "${max_glibc:-none (static)}"
  if [[ -n "$max_glibc" ]] && ! version_le "$max_glibc" "$MAX_GLIBC"; then
    echo "ERROR: $bin references GLIBC_$max_glibc > $MAX_GLIBC (allowed: <= $MAX_GLIBC; provided.al2023 has glibc 2.34)" >&2
    status=1
  fi
  if awk -v b="$bytes" -v m="$MAX_ZIP_MB" 'BEGIN { exit !(b >= m * 1048576) }'; then
    echo "WARNING: $zip is ${mb} MB (target < ${MAX_ZIP_MB} MB)" >&2
  fi
done
exit "$status"
