# Secrets managed by the module, each encrypted with the customer-managed key
# and rotated by the rotation Lambda.

resource "aws_secretsmanager_secret" "managed" {
  for_each = var.managed_secrets

  name                    = each.key
  description             = each.value.description
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = each.value.recovery_window_in_days

  tags = merge(
    local.common_tags,
    each.value.tags,
    each.value.rotator == null ? {} : { "secrets-rotation:rotator" = each.value.rotator },
  )
}

# Secrets Manager may invoke the rotation Lambda only for these secrets, from
# this account.
resource "aws_lambda_permission" "secretsmanager" {
  for_each = aws_secretsmanager_secret.managed

  statement_id   = "AllowSecretsManager-${substr(sha1(each.key), 0, 16)}"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.rotation.function_name
  principal      = "secretsmanager.amazonaws.com"
  source_account = local.account_id
  source_arn     = each.value.arn
}

resource "aws_lambda_permission" "secretsmanager_additional" {
  for_each = toset(var.rotation_additional_secret_arns)

  statement_id   = "AllowSecretsManagerExt-${substr(sha1(each.key), 0, 16)}"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.rotation.function_name
  principal      = "secretsmanager.amazonaws.com"
  source_account = local.account_id
  source_arn     = each.value
}

resource "aws_secretsmanager_secret_rotation" "managed" {
  #checkov:skip=CKV_AWS_304:The schedule comes per secret from var.managed_secrets, which checkov cannot resolve; validations in variables.tf reject automatically_after_days or rate(N days) above 90.
  for_each = aws_secretsmanager_secret.managed

  secret_id           = each.value.id
  rotation_lambda_arn = aws_lambda_function.rotation.arn
  rotate_immediately  = var.rotate_immediately

  rotation_rules {
    automatically_after_days = var.managed_secrets[each.key].automatically_after_days
    schedule_expression = (
      var.managed_secrets[each.key].automatically_after_days != null
      ? null
      : coalesce(var.managed_secrets[each.key].schedule_expression, var.default_schedule_expression)
    )
    duration = var.managed_secrets[each.key].duration
  }

  depends_on = [
    aws_lambda_permission.secretsmanager,
    aws_iam_role_policy.rotation,
  ]
}
