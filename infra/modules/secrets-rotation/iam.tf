# Least-privilege roles of the two Lambdas. Every Secrets Manager action is
# scoped to secret ARNs; no Secrets Manager write action (PutSecretValue,
# UpdateSecretVersionStage, RotateSecret, ...) is ever granted on "*".

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

locals {
  # Keys the Lambdas may use, only through Secrets Manager.
  secret_kms_key_arns = concat([aws_kms_key.this.arn], var.additional_kms_key_arns)

  # ec2 resources the rotation Lambda's ENIs may be created in.
  vpc_resource_arns = concat(
    [for id in var.vpc_subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/${id}"],
    [for id in var.vpc_security_group_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/${id}"],
  )
  eni_arn = "arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"

  api_read_actions = concat(
    ["secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"],
    var.api_allow_get_secret_value ? ["secretsmanager:GetSecretValue"] : [],
  )
}

# ---------------------------------------------------------------------------
# Rotation Lambda
# ---------------------------------------------------------------------------

resource "aws_iam_role" "rotation" {
  name               = "${var.name_prefix}-rotation-lambda"
  description        = "Execution role of the Secrets Manager rotation Lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.common_tags
}

data "aws_iam_policy_document" "rotation" {
  # createSecret/setSecret/testSecret/finishSecret on the rotated secrets only.
  dynamic "statement" {
    for_each = length(local.rotation_secret_arns) > 0 ? [1] : []
    content {
      sid    = "RotateManagedSecrets"
      effect = "Allow"
      actions = [
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
      ]
      resources = local.rotation_secret_arns
    }
  }

  # Superuser secrets (masterarn) of the alternating-users strategy: read only.
  dynamic "statement" {
    for_each = length(var.rotation_read_only_secret_arns) > 0 ? [1] : []
    content {
      sid    = "ReadMasterSecrets"
      effect = "Allow"
      actions = [
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
      ]
      resources = var.rotation_read_only_secret_arns
    }
  }

  statement {
    sid       = "UseKeyThroughSecretsManagerOnly"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = local.secret_kms_key_arns

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.secrets_manager_service]
    }
  }

  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.rotation.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.enable_rds_checks ? [1] : []
    content {
      sid     = "DescribeRdsTargets"
      effect  = "Allow"
      actions = ["rds:DescribeDBInstances", "rds:DescribeDBClusters"]
      resources = [
        "arn:${local.partition}:rds:${local.region}:${local.account_id}:db:*",
        "arn:${local.partition}:rds:${local.region}:${local.account_id}:cluster:*",
      ]
    }
  }

  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []
    content {
      sid       = "XRayTraces"
      effect    = "Allow"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"] # X-Ray has no resource-level permissions.
    }
  }
}

resource "aws_iam_role_policy" "rotation" {
  name   = "rotation"
  role   = aws_iam_role.rotation.id
  policy = data.aws_iam_policy_document.rotation.json
}

# ENI management for a rotation Lambda attached to a VPC (only then).
data "aws_iam_policy_document" "rotation_vpc" {
  count = local.in_vpc ? 1 : 0

  statement {
    sid       = "CreateEniInGivenSubnetsAndGroups"
    effect    = "Allow"
    actions   = ["ec2:CreateNetworkInterface"]
    resources = concat(local.vpc_resource_arns, [local.eni_arn])
  }

  statement {
    sid    = "ManageEnis"
    effect = "Allow"
    actions = [
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = [local.eni_arn]
  }

  statement {
    sid    = "DescribeNetwork"
    effect = "Allow"
    actions = [
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeVpcs",
    ]
    resources = ["*"] # ec2:Describe* has no resource-level permissions (read only).
  }
}

resource "aws_iam_role_policy" "rotation_vpc" {
  count = local.in_vpc ? 1 : 0

  name   = "rotation-vpc"
  role   = aws_iam_role.rotation.id
  policy = data.aws_iam_policy_document.rotation_vpc[0].json
}

# ---------------------------------------------------------------------------
# API Lambda
# ---------------------------------------------------------------------------

resource "aws_iam_role" "api" {
  name               = "${var.name_prefix}-api-lambda"
  description        = "Execution role of the secrets API Lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.common_tags
}

data "aws_iam_policy_document" "api" {
  dynamic "statement" {
    for_each = local.api_has_secrets ? [1] : []
    content {
      sid       = "ReadAllowedSecrets"
      effect    = "Allow"
      actions   = local.api_read_actions
      resources = local.api_secret_arns
    }
  }

  dynamic "statement" {
    for_each = var.api_allow_rotate && local.api_has_secrets ? [1] : []
    content {
      sid       = "RotateAllowedSecrets"
      effect    = "Allow"
      actions   = ["secretsmanager:RotateSecret"]
      resources = local.api_secret_arns
    }
  }

  # HS256 signing key of the API's own JWT check.
  dynamic "statement" {
    for_each = var.jwt_hs256_secret_arn == null ? [] : [1]
    content {
      sid       = "ReadJwtSigningKey"
      effect    = "Allow"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.jwt_hs256_secret_arn]
    }
  }

  # ListSecrets has no resource-level permissions: it can only be granted on
  # "*". It is a read action returning metadata (no values); the Lambda
  # filters the result by ALLOWED_SECRETS. Set api_allow_list = false to drop.
  dynamic "statement" {
    for_each = var.api_allow_list ? [1] : []
    content {
      sid       = "ListSecretsMetadata"
      effect    = "Allow"
      actions   = ["secretsmanager:ListSecrets"]
      resources = ["*"]
    }
  }

  statement {
    sid       = "DecryptThroughSecretsManagerOnly"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = local.secret_kms_key_arns

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.secrets_manager_service]
    }
  }

  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.api.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []
    content {
      sid       = "XRayTraces"
      effect    = "Allow"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"] # X-Ray has no resource-level permissions.
    }
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "api"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}
