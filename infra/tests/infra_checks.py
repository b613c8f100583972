"""Static least-privilege checks over the Terraform in infra/.

Parses every .tf file with python-hcl2 and reports violations as strings.
Works with python-hcl2 7.x/8.x (which keep the quotes of keys and string
literals) and older releases (which strip them).
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import hcl2

# Secrets Manager actions that change secrets, their versions, their rotation
# or their policies. None of them may be granted on "*".
SECRETSMANAGER_WRITE_ACTIONS = [
    "CancelRotateSecret",
    "CreateSecret",
    "DeleteResourcePolicy",
    "DeleteSecret",
    "PutResourcePolicy",
    "PutSecretValue",
    "RemoveRegionsFromReplication",
    "ReplicateSecretToRegions",
    "RestoreSecret",
    "RotateSecret",
    "StopReplicationToReplica",
    "TagResource",
    "UntagResource",
    "UpdateSecret",
    "UpdateSecretVersionStage",
]

_ACTION_RE = re.compile(r'"((?:[a-z0-9-]+:)?[A-Za-z0-9*?]+)"')
# A list element that is exactly "*" (also inside rendered expressions, e.g.
# concat(["*"], ...)), or an ARN matching every secret.
_WILDCARD_ELEMENT_RE = re.compile(r'(?m)(?:[\[,]\s*\\?"\*\\?"\s*[\],]|^"\*"$|^\["\*"|, "\*"\])')
_ALL_SECRETS_ARN_RE = re.compile(r"secretsmanager:[^\"]*:secret:\*\\?\"")
_REF_RE = re.compile(r"\b(local|var)\.([A-Za-z0-9_-]+)")


def unquote(value: Any) -> Any:
    """Normalise python-hcl2 output: strip the quotes kept around keys and
    string literals by python-hcl2 >= 7, drop its bookkeeping keys."""
    if isinstance(value, dict):
        return {
            unquote(k): unquote(v)
            for k, v in value.items()
            if k not in ("__is_block__", "__comments__", "__inline_comments__")
        }
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        if '"' not in inner.replace('\\"', ""):
            return inner.replace('\\"', '"')
    return value


@dataclass
class Block:
    file: Path
    kind: str  # "resource" or "data"
    type: str
    name: str
    body: dict

    @property
    def address(self) -> str:
        prefix = "data." if self.kind == "data" else ""
        return f"{prefix}{self.type}.{self.name} ({self.file})"


@dataclass
class Module:
    directory: Path
    blocks: list[Block] = field(default_factory=list)
    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)

    def of_type(self, kind: str, type_: str) -> list[Block]:
        return [b for b in self.blocks if b.kind == kind and b.type == type_]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def load_module(directory: Path) -> Module:
    module = Module(directory)
    for path in sorted(directory.glob("*.tf")):
        with path.open() as fh:
            parsed = unquote(hcl2.load(fh))
        for kind in ("resource", "data"):
            for entry in _as_list(parsed.get(kind)):
                for type_, named in entry.items():
                    for name, body in named.items():
                        module.blocks.append(Block(path, kind, type_, name, body))
        for entry in _as_list(parsed.get("locals")):
            module.locals.update(entry)
        for entry in _as_list(parsed.get("variable")):
            for name, body in entry.items():
                module.variables[name] = body
    return module


def module_dirs(infra_dir: Path) -> list[Path]:
    """Every directory under infra/ holding .tf files (modules and examples)."""
    dirs = {p.parent for p in infra_dir.rglob("*.tf") if ".terraform" not in p.parts}
    return sorted(dirs)


def _render(module: Module, value: Any, seen: set[str] | None = None) -> str:
    """JSON text of a value, followed by the text of every local and variable
    default it references (recursively), so wildcards hidden behind a local or
    a variable default are seen too."""
    seen = set() if seen is None else seen
    text = json.dumps(value)
    extra = []
    for kind, name in _REF_RE.findall(text):
        key = f"{kind}.{name}"
        if key in seen:
            continue
        seen.add(key)
        if kind == "local" and name in module.locals:
            extra.append(_render(module, module.locals[name], seen))
        elif kind == "var" and name in module.variables:
            extra.append(_render(module, module.variables[name].get("default"), seen))
    return "\n".join([text, *extra])


def _statements(node: Any) -> Iterator[dict]:
    """Every policy-statement-like dict (static or `dynamic` content)."""
    if isinstance(node, dict):
        if "actions" in node or "not_actions" in node:
            yield node
        for v in node.values():
            yield from _statements(v)
    elif isinstance(node, list):
        for v in node:
            yield from _statements(v)


def _actions(module: Module, stmt: dict) -> list[str]:
    value = stmt.get("actions")
    if isinstance(value, list) and all(isinstance(a, str) and "${" not in a for a in value):
        return value
    return _ACTION_RE.findall(_render(module, value))


def _is_secretsmanager_write(action: str) -> bool:
    if action == "*":
        return True
    service, _, name = action.partition(":")
    if service.lower() != "secretsmanager":
        return False
    return any(fnmatch.fnmatchcase(w, name) for w in SECRETSMANAGER_WRITE_ACTIONS)


def _resources_include_wildcard(module: Module, stmt: dict) -> bool:
    if "not_resources" in stmt:
        return True  # NotResource is "everything except": as broad as "*".
    value = stmt.get("resources")
    items = value if isinstance(value, list) else [value]
    for item in items:
        if item == "*" or (isinstance(item, str) and re.search(r":secret:\*$", item)):
            return True
        if isinstance(item, str) and "${" in item:
            text = _render(module, item)
            if _WILDCARD_ELEMENT_RE.search(text) or _ALL_SECRETS_ARN_RE.search(text):
                return True
    return False


def check_policies(module: Module) -> list[str]:
    problems = []
    for block in module.of_type("data", "aws_iam_policy_document"):
        for stmt in _statements(block.body):
            if str(stmt.get("effect", "Allow")).lower() == "deny":
                continue
            if "not_actions" in stmt:
                problems.append(f"{block.address}: NotAction statements are not allowed")
                continue
            writes = [a for a in _actions(module, stmt) if _is_secretsmanager_write(a)]
            if writes and _resources_include_wildcard(module, stmt):
                problems.append(
                    f"{block.address}: Secrets Manager write action(s) {sorted(set(writes))} on a '*' resource"
                )
    # Policies must be built with aws_iam_policy_document so the check above sees them.
    policy_holders = {
        "aws_iam_role_policy": "policy",
        "aws_iam_policy": "policy",
        "aws_iam_role": "assume_role_policy",
        "aws_kms_key": "policy",
        "aws_sns_topic_policy": "policy",
        "aws_secretsmanager_resource_policy": "policy",
    }
    for type_, attr in policy_holders.items():
        for block in module.of_type("resource", type_):
            value = block.body.get(attr)
            if value is None:
                continue
            if "data.aws_iam_policy_document." not in json.dumps(value):
                problems.append(f"{block.address}: {attr} must come from an aws_iam_policy_document")
            if type_ == "aws_iam_role" and "inline_policy" in block.body:
                problems.append(f"{block.address}: inline_policy blocks are not allowed")
    return problems


def check_lambda_permissions(module: Module) -> list[str]:
    problems = []
    for block in module.of_type("resource", "aws_lambda_permission"):
        if not block.body.get("source_account"):
            problems.append(f"{block.address}: aws_lambda_permission without source_account")
        if block.body.get("principal") in ("*", None):
            problems.append(f"{block.address}: aws_lambda_permission with a '*' principal")
    return problems


def check_secrets(module: Module) -> list[str]:
    problems = []
    rotations = [json.dumps(b.body) for b in module.of_type("resource", "aws_secretsmanager_secret_rotation")]
    for block in module.of_type("resource", "aws_secretsmanager_secret"):
        kms = block.body.get("kms_key_id")
        if not kms or "alias/aws/secretsmanager" in str(kms):
            problems.append(f"{block.address}: secret without a customer-managed kms_key_id")
        ref = f"aws_secretsmanager_secret.{block.name}"
        if not any(re.search(re.escape(ref) + r"\b", r) for r in rotations):
            problems.append(f"{block.address}: secret without an aws_secretsmanager_secret_rotation")
    for block in module.of_type("resource", "aws_secretsmanager_secret_rotation"):
        if "rotation_rules" not in block.body:
            problems.append(f"{block.address}: rotation without rotation_rules")
    return problems


def check_log_groups(module: Module) -> list[str]:
    problems = []
    for block in module.of_type("resource", "aws_cloudwatch_log_group"):
        if block.body.get("retention_in_days") in (None, "", 0, "0"):
            problems.append(f"{block.address}: log group without retention_in_days")
        if not block.body.get("kms_key_id"):
            problems.append(f"{block.address}: log group without kms_key_id")
    return problems


def check_infra(infra_dir: Path) -> list[str]:
    problems = []
    for directory in module_dirs(Path(infra_dir)):
        module = load_module(directory)
        problems += check_policies(module)
        problems += check_lambda_permissions(module)
        problems += check_secrets(module)
        problems += check_log_groups(module)
    return problems


if __name__ == "__main__":
    import sys

    found = check_infra(Path(sys.argv[1] if len(sys.argv) > 1 else "infra"))
    for p in found:
        print(p)
    sys.exit(1 if found else 0)
