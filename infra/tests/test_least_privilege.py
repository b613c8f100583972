"""Least-privilege and hygiene checks of infra/ (parsed with python-hcl2).

The first group checks the real Terraform; the second copies infra/ to a
temporary directory, plants one violation at a time and asserts the checker
reports it (so a checker that silently passes everything fails here).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import infra_checks
from infra_checks import check_infra, load_module

INFRA = Path(__file__).resolve().parents[1]
MODULE = INFRA / "modules" / "secrets-rotation"
EXAMPLE = INFRA / "examples" / "complete"


@pytest.fixture(scope="module")
def module():
    return load_module(MODULE)


# ---------------------------------------------------------------------------
# The real infrastructure
# ---------------------------------------------------------------------------


def test_all_tf_files_parse():
    dirs = infra_checks.module_dirs(INFRA)
    assert MODULE in dirs and EXAMPLE in dirs
    for d in dirs:
        load_module(d)


def test_no_violations_in_infra():
    assert check_infra(INFRA) == []


def test_no_secretsmanager_write_action_on_star(module):
    assert infra_checks.check_policies(module) == []


def test_rotation_role_scoped_to_managed_secrets(module):
    (doc,) = [b for b in module.of_type("data", "aws_iam_policy_document") if b.name == "rotation"]
    stmts = {s.get("sid"): s for s in infra_checks._statements(doc.body)}
    rotate = stmts["RotateManagedSecrets"]
    assert sorted(rotate["actions"]) == sorted(
        [
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecretVersionStage",
        ]
    )
    assert "rotation_secret_arns" in json.dumps(rotate["resources"])
    kms = stmts["UseKeyThroughSecretsManagerOnly"]
    assert sorted(kms["actions"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert "kms:ViaService" in json.dumps(kms["condition"])
    rds = stmts["DescribeRdsTargets"]
    assert "enable_rds_checks" in json.dumps(doc.body)  # only behind the flag
    assert rds["resources"] != ["*"]


def test_lambda_permissions_are_scoped(module):
    perms = module.of_type("resource", "aws_lambda_permission")
    assert perms
    assert infra_checks.check_lambda_permissions(module) == []
    sm = [p for p in perms if p.body.get("principal") == "secretsmanager.amazonaws.com"]
    assert sm, "no permission for Secrets Manager to invoke the rotation Lambda"
    for p in sm:
        assert p.body.get("source_account")
        assert p.body.get("source_arn")


def test_every_managed_secret_has_rotation_and_cmk(module):
    assert module.of_type("resource", "aws_secretsmanager_secret")
    assert infra_checks.check_secrets(module) == []


def test_every_log_group_has_retention(module):
    assert len(module.of_type("resource", "aws_cloudwatch_log_group")) >= 3
    assert infra_checks.check_log_groups(module) == []


def test_lambdas_runtime_and_logging(module):
    fns = {b.name: b.body for b in module.of_type("resource", "aws_lambda_function")}
    assert set(fns) == {"rotation", "api"}
    for body in fns.values():
        assert body["runtime"] == "provided.al2023"
        assert body["handler"] == "bootstrap"
        assert body["architectures"] == ["x86_64"]
        assert infra_checks._as_list(body["logging_config"])[0]["log_format"] == "JSON"
    env = json.dumps(fns["rotation"]["environment"])
    for name in [
        "SECRETS_MANAGER_ENDPOINT",
        "PASSWORD_LENGTH",
        "EXCLUDE_CHARACTERS",
        "EXCLUDE_NUMBERS",
        "EXCLUDE_PUNCTUATION",
        "EXCLUDE_UPPERCASE",
        "EXCLUDE_LOWERCASE",
        "REQUIRE_EACH_INCLUDED_TYPE",
        "RUST_LOG",
    ]:
        assert name in env
    env = json.dumps(fns["api"]["environment"])
    for name in ["JWT_ISSUER", "JWT_AUDIENCE", "JWT_JWKS_URL", "JWT_HS256_SECRET_ID", "ALLOWED_SECRETS",
                 "CACHE_TTL_SECONDS", "ROTATE_WAIT_SECONDS", "RUST_LOG"]:
        assert name in env


def test_rotation_failure_metric_filter(module):
    (mf,) = module.of_type("resource", "aws_cloudwatch_log_metric_filter")
    assert mf.body["pattern"].replace('\\"', '"') == '{ $.fields.event = "rotation_step_failed" }'


def test_api_routes(module):
    text = (module.locals["protected_routes"] + module.locals["public_routes"]).replace('\\"', '"')
    for route in ["GET /secrets", "GET /secrets/{name+}", "POST /secrets/{name+}", "GET /get-secret/{name+}",
                  "POST /rotate-secret/{name+}", "GET /openapi.json", "GET /healthz"]:
        assert f'"{route}"' in text


# ---------------------------------------------------------------------------
# The checker catches planted violations
# ---------------------------------------------------------------------------


@pytest.fixture
def infra_copy(tmp_path):
    dst = tmp_path / "infra"
    shutil.copytree(INFRA, dst, ignore=shutil.ignore_patterns("tests", ".terraform*", "__pycache__"))
    assert check_infra(dst) == []
    return dst


def _plant(infra: Path, text: str) -> None:
    (infra / "modules" / "secrets-rotation" / "planted.tf").write_text(text)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert re.search(old, text), f"{old!r} not in {path}"
    path.write_text(re.sub(old, new, text, count=1))


def test_detects_put_secret_value_on_star(infra_copy):
    _plant(
        infra_copy,
        """
data "aws_iam_policy_document" "planted" {
  statement {
    actions   = ["secretsmanager:PutSecretValue"]
    resources = ["*"]
  }
}
""",
    )
    problems = check_infra(infra_copy)
    assert any("planted" in p and "PutSecretValue" in p for p in problems), problems


def test_detects_wildcard_action_hidden_in_dynamic_statement_and_local(infra_copy):
    _plant(
        infra_copy,
        """
locals {
  planted_resources = concat(["*"], [])
}

data "aws_iam_policy_document" "planted" {
  dynamic "statement" {
    for_each = [1]
    content {
      actions   = ["secretsmanager:*"]
      resources = local.planted_resources
    }
  }
}
""",
    )
    problems = check_infra(infra_copy)
    assert any("planted" in p and "secretsmanager:*" in p for p in problems), problems


def test_detects_rotate_secret_added_to_list_statement(infra_copy):
    _edit(
        infra_copy / "modules" / "secrets-rotation" / "iam.tf",
        r'actions   = \["secretsmanager:ListSecrets"\]',
        'actions   = ["secretsmanager:ListSecrets", "secretsmanager:RotateSecret"]',
    )
    problems = check_infra(infra_copy)
    assert any("RotateSecret" in p for p in problems), problems


def test_detects_log_group_without_retention(infra_copy):
    _plant(
        infra_copy,
        """
resource "aws_cloudwatch_log_group" "planted" {
  name       = "/planted"
  kms_key_id = aws_kms_key.this.arn
}
""",
    )
    problems = check_infra(infra_copy)
    assert any("aws_cloudwatch_log_group.planted" in p and "retention" in p for p in problems), problems


def test_detects_lambda_permission_without_source_account(infra_copy):
    _edit(
        infra_copy / "modules" / "secrets-rotation" / "secrets.tf",
        r"\n  source_account = local.account_id\n",
        "\n",
    )
    problems = check_infra(infra_copy)
    assert any("source_account" in p for p in problems), problems


def test_detects_secret_without_rotation_or_cmk(infra_copy):
    _plant(
        infra_copy,
        """
resource "aws_secretsmanager_secret" "planted" {
  name = "planted"
}
""",
    )
    problems = check_infra(infra_copy)
    assert any("secret.planted" in p and "rotation" in p for p in problems), problems
    assert any("secret.planted" in p and "kms_key_id" in p for p in problems), problems


def test_detects_inline_json_policy(infra_copy):
    _plant(
        infra_copy,
        """
resource "aws_iam_role_policy" "planted" {
  role = aws_iam_role.api.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "secretsmanager:PutSecretValue", Resource = "*" }]
  })
}
""",
    )
    problems = check_infra(infra_copy)
    assert any("aws_iam_role_policy.planted" in p for p in problems), problems
