data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  dns_suffix = data.aws_partition.current.dns_suffix

  rotation_function_name = "${var.name_prefix}-rotation"
  api_function_name      = "${var.name_prefix}-api"

  # Log group names are fixed so that the log groups (with retention and KMS)
  # exist before Lambda would create unmanaged ones on first invocation.
  rotation_log_group_name = "/aws/lambda/${local.rotation_function_name}"
  api_log_group_name      = "/aws/lambda/${local.api_function_name}"
  api_access_log_name     = "/aws/apigateway/${var.name_prefix}-api-access"

  in_vpc = length(var.vpc_subnet_ids) > 0

  secrets_manager_endpoint = "https://secretsmanager.${local.region}.${local.dns_suffix}"
  secrets_manager_service  = "secretsmanager.${local.region}.${local.dns_suffix}"

  # ARNs of the secrets managed (created) by this module.
  managed_secret_arns = [for s in aws_secretsmanager_secret.managed : s.arn]

  # Secrets the rotation Lambda may rotate: the managed ones plus secrets
  # created elsewhere and attached to this rotation Lambda.
  rotation_secret_arns = concat(local.managed_secret_arns, var.rotation_additional_secret_arns)

  # Name patterns exposed through the API (ALLOWED_SECRETS). Empty means
  # "the managed secrets only".
  api_allowed_secret_patterns = length(var.api_allowed_secrets) > 0 ? var.api_allowed_secrets : [for k, s in aws_secretsmanager_secret.managed : s.name]

  # IAM resource patterns for the allowed names. IAM's `*` also matches `/`,
  # so both `*` and `**` become `*`; Secrets Manager appends `-XXXXXX`.
  api_pattern_arns = [
    for p in var.api_allowed_secrets :
    "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${replace(p, "**", "*")}-??????"
  ]
  api_secret_arns = distinct(concat(local.managed_secret_arns, local.api_pattern_arns, var.api_additional_secret_arns))
  # Known at plan time (unlike length(distinct(...)) of not-yet-created ARNs).
  api_has_secrets = length(var.managed_secrets) + length(var.api_allowed_secrets) + length(var.api_additional_secret_arns) > 0

  common_tags = merge(var.tags, { "managed-by" = "terraform", "component" = "secrets-rotation-service" })
}
