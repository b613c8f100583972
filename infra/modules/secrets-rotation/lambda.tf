# ---------------------------------------------------------------------------
# Log groups (created before the functions so Lambda never creates unmanaged,
# unencrypted, never-expiring ones)
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "rotation" {
  name              = local.rotation_log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.common_tags
}

resource "aws_cloudwatch_log_group" "api" {
  name              = local.api_log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.common_tags
}

# ---------------------------------------------------------------------------
# Rotation Lambda (invoked by Secrets Manager: createSecret, setSecret,
# testSecret, finishSecret)
# ---------------------------------------------------------------------------

resource "aws_lambda_function" "rotation" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by Secrets Manager, which records and retries failed steps itself; a DLQ only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:VPC placement is optional (var.vpc_subnet_ids); only the database rotators need it, and Secrets-Manager-only rotators must not require a NAT/endpoint.
  #checkov:skip=CKV_AWS_272:The zip is built locally by scripts/package.sh (cargo lambda); no AWS Signer profile exists in this deployment.
  function_name = local.rotation_function_name
  description   = "Secrets Manager rotation function (secrets-rotation-service)"
  role          = aws_iam_role.rotation.arn

  filename         = var.rotation_lambda_zip_path
  source_code_hash = filebase64sha256(var.rotation_lambda_zip_path)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["x86_64"]

  memory_size                    = var.rotation_lambda_memory_size
  timeout                        = var.rotation_lambda_timeout
  reserved_concurrent_executions = var.rotation_reserved_concurrency
  kms_key_arn                    = aws_kms_key.this.arn

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.rotation.name
  }

  tracing_config {
    mode = var.tracing_mode
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.vpc_subnet_ids
      security_group_ids = var.vpc_security_group_ids
    }
  }

  environment {
    variables = {
      SECRETS_MANAGER_ENDPOINT   = local.secrets_manager_endpoint
      PASSWORD_LENGTH            = tostring(var.password_length)
      EXCLUDE_CHARACTERS         = var.exclude_characters
      EXCLUDE_NUMBERS            = tostring(var.exclude_numbers)
      EXCLUDE_PUNCTUATION        = tostring(var.exclude_punctuation)
      EXCLUDE_UPPERCASE          = tostring(var.exclude_uppercase)
      EXCLUDE_LOWERCASE          = tostring(var.exclude_lowercase)
      REQUIRE_EACH_INCLUDED_TYPE = tostring(var.require_each_included_type)
      INCLUDE_SPACE              = tostring(var.include_space)
      RUST_LOG                   = var.rust_log
    }
  }

  tags = local.common_tags

  depends_on = [
    aws_cloudwatch_log_group.rotation,
    aws_iam_role_policy.rotation,
    aws_iam_role_policy.rotation_vpc,
  ]
}

# ---------------------------------------------------------------------------
# API Lambda (behind the HTTP API)
# ---------------------------------------------------------------------------

resource "aws_lambda_function" "api" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway, which returns errors to the client; a DLQ only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:The API Lambda only calls Secrets Manager (and the JWKS URL of the identity provider); a VPC would add a NAT/endpoints for no isolation benefit.
  #checkov:skip=CKV_AWS_272:The zip is built locally by scripts/package.sh (cargo lambda); no AWS Signer profile exists in this deployment.
  function_name = local.api_function_name
  description   = "HTTP API over Secrets Manager (secrets-rotation-service)"
  role          = aws_iam_role.api.arn

  filename         = var.api_lambda_zip_path
  source_code_hash = filebase64sha256(var.api_lambda_zip_path)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["x86_64"]

  memory_size                    = var.api_lambda_memory_size
  timeout                        = var.api_lambda_timeout
  reserved_concurrent_executions = var.api_reserved_concurrency
  kms_key_arn                    = aws_kms_key.this.arn

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.api.name
  }

  tracing_config {
    mode = var.tracing_mode
  }

  environment {
    variables = merge(
      {
        JWT_ISSUER          = var.jwt_issuer
        JWT_AUDIENCE        = var.jwt_audience[0]
        ALLOWED_SECRETS     = join(",", local.api_allowed_secret_patterns)
        CACHE_TTL_SECONDS   = tostring(var.cache_ttl_seconds)
        ROTATE_WAIT_SECONDS = tostring(var.rotate_wait_seconds)
        RUST_LOG            = var.rust_log
      },
      var.jwt_jwks_url == null ? {} : { JWT_JWKS_URL = var.jwt_jwks_url },
      var.jwt_hs256_secret_arn == null ? {} : { JWT_HS256_SECRET_ID = var.jwt_hs256_secret_arn },
    )
  }

  tags = local.common_tags

  lifecycle {
    precondition {
      condition     = (var.jwt_jwks_url == null) != (var.jwt_hs256_secret_arn == null)
      error_message = "Set exactly one of jwt_jwks_url and jwt_hs256_secret_arn."
    }
    precondition {
      condition     = var.rotate_wait_seconds < var.api_lambda_timeout
      error_message = "rotate_wait_seconds must be lower than api_lambda_timeout."
    }
    precondition {
      condition     = !(var.enable_api_gateway_authorizer && var.jwt_hs256_secret_arn != null)
      error_message = "API Gateway's JWT authorizer cannot verify HS256 tokens: set enable_api_gateway_authorizer = false with jwt_hs256_secret_arn."
    }
  }

  depends_on = [
    aws_cloudwatch_log_group.api,
    aws_iam_role_policy.api,
  ]
}
