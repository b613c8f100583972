#!/usr/bin/env bash
# The main job, locally: brings up the AWS API emulator and the SCRAM
# PostgreSQL cluster, creates a generic secret and a PostgreSQL secret, and
# rotates both through the real rotation-lambda binary (run under a local
# Lambda Runtime API by `secrets-rotation rotate`), printing the labels and
# a redacted view before and after. No value is ever printed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/services.sh start
# shellcheck disable=SC1091
. .run/env
cargo build --release --workspace --bins --quiet
export AWS_ENDPOINT_URL="$SRS_AWS_ENDPOINT" AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true
export RUST_LOG=${RUST_LOG:-warn}
CLI=target/release/secrets-rotation
suffix=$(python3 -c 'import secrets; print(secrets.token_hex(4))')

# A PostgreSQL role whose first password is sent as a SCRAM verifier too.
user="demo_app_$suffix"
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
verifier=$(PW="$password" python3 - <<'PY'
import base64, hashlib, hmac, os
pw, salt, it = os.environ["PW"].encode(), os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", pw, salt, it)
ck = hmac.new(salted, b"Client Key", "sha256").digest()
sk = hmac.new(salted, b"Server Key", "sha256").digest()
b = lambda x: base64.b64encode(x).decode()
print(f"SCRAM-SHA-256${it}:{b(salt)}${b(hashlib.sha256(ck).digest())}:{b(sk)}")
PY
)
psql -q -h "$SRS_PG_SOCKET_DIR" -p "$SRS_PG_PORT" -U postgres -d postgres \
  -c "CREATE ROLE $user LOGIN PASSWORD '$verifier'"

echo "### generic secret"
generic=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))' | $CLI create "demo/api-key-$suffix")
$CLI rotate "$generic" --lambda target/release/rotation-lambda

echo
echo "### PostgreSQL secret (single user, SCRAM cluster on port $SRS_PG_PORT)"
pg=$(printf '{"engine":"postgres","host":"127.0.0.1","port":%s,"username":"%s","password":"%s","dbname":"postgres","ssl":false,"owner":"demo"}' \
  "$SRS_PG_PORT" "$user" "$password" | $CLI create "demo/postgres-$suffix")
$CLI rotate "$pg" --lambda target/release/rotation-lambda

echo
echo "### checks"
new=$(.venv/bin/python - "$pg" <<'PY'
import json, os, sys, boto3
c = boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
print(json.loads(c.get_secret_value(SecretId=sys.argv[1], VersionStage="AWSCURRENT")["SecretString"])["password"])
PY
)
if PGPASSWORD="$new" psql -qtA -h 127.0.0.1 -p "$SRS_PG_PORT" -U "$user" -d postgres -c 'select 1' >/dev/null 2>&1; then
  echo "new AWSCURRENT password logs in: yes"
else
  echo "new AWSCURRENT password logs in: NO" >&2; exit 1
fi
if PGPASSWORD="$password" psql -qtA -h 127.0.0.1 -p "$SRS_PG_PORT" -U "$user" -d postgres -c 'select 1' >/dev/null 2>&1; then
  echo "old password still logs in: YES (unexpected)" >&2; exit 1
else
  echo "old password logs in: no"
fi
if grep -qF -- "$new" "$SRS_PG_LOG"; then
  echo "new password found in the PostgreSQL server log" >&2; exit 1
else
  echo "new password in the PostgreSQL server log (log_statement=all): no"
fi
