# ---------------------------------------------------------------------------
# General
# ---------------------------------------------------------------------------

variable "name_prefix" {
  description = "Prefix of every resource name (Lambda functions, roles, log groups, API, topic)."
  type        = string
  default     = "secrets-rotation"

  validation {
    condition     = can(regex("^[A-Za-z0-9-_]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1-40 characters of letters, digits, '-' and '_'."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# Lambda packages and runtime settings
# ---------------------------------------------------------------------------

variable "rotation_lambda_zip_path" {
  description = "Path of the rotation-lambda zip built by `cargo lambda build --release --output-format zip` (scripts/package.sh)."
  type        = string
  default     = "../../../target/lambda/rotation-lambda/bootstrap.zip"
}

variable "api_lambda_zip_path" {
  description = "Path of the api-lambda zip built by `cargo lambda build --release --output-format zip` (scripts/package.sh)."
  type        = string
  default     = "../../../target/lambda/api-lambda/bootstrap.zip"
}

variable "rotation_lambda_memory_size" {
  description = "Memory (MB) of the rotation Lambda."
  type        = number
  default     = 256
}

variable "rotation_lambda_timeout" {
  description = "Timeout (seconds) of the rotation Lambda. Each rotation step is one invocation; database round trips need a few seconds at most."
  type        = number
  default     = 60
}

variable "api_lambda_memory_size" {
  description = "Memory (MB) of the API Lambda."
  type        = number
  default     = 256
}

variable "api_lambda_timeout" {
  description = "Timeout (seconds) of the API Lambda. Must exceed rotate_wait_seconds; API Gateway HTTP APIs stop waiting after 30 s."
  type        = number
  default     = 29
}

variable "rotation_reserved_concurrency" {
  description = "Reserved concurrent executions of the rotation Lambda (limits the load on the rotated databases). -1 = unreserved."
  type        = number
  default     = 5
}

variable "api_reserved_concurrency" {
  description = "Reserved concurrent executions of the API Lambda. -1 = unreserved."
  type        = number
  default     = 10
}

variable "tracing_mode" {
  description = "X-Ray tracing mode of both Lambdas: \"PassThrough\" (no traces unless the caller samples) or \"Active\" (also grants xray:PutTraceSegments)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

variable "log_retention_in_days" {
  description = "Retention of every CloudWatch log group created by the module (Lambda logs and API access logs)."
  type        = number
  default     = 365
}

variable "rust_log" {
  description = "RUST_LOG filter of both Lambdas (tracing-subscriber EnvFilter syntax)."
  type        = string
  default     = "info"
}

# ---------------------------------------------------------------------------
# Networking (the database rotators must reach the databases)
# ---------------------------------------------------------------------------

variable "vpc_subnet_ids" {
  description = "Subnets of the rotation Lambda. Empty = the Lambda runs outside any VPC. The subnets need a route to Secrets Manager (VPC endpoint or NAT)."
  type        = list(string)
  default     = []
}

variable "vpc_security_group_ids" {
  description = "Security groups of the rotation Lambda (used only when vpc_subnet_ids is not empty). They must allow egress to the databases and to Secrets Manager."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------
# Rotation Lambda: password generation (same variables as AWS's Python templates)
# ---------------------------------------------------------------------------

variable "password_length" {
  description = "PASSWORD_LENGTH: length of generated passwords."
  type        = number
  default     = 32
}

variable "exclude_characters" {
  description = "EXCLUDE_CHARACTERS: characters never used in generated passwords (default avoids characters that break connection strings and shells)."
  type        = string
  default     = "/@\"'\\"
}

variable "exclude_numbers" {
  description = "EXCLUDE_NUMBERS."
  type        = bool
  default     = false
}

variable "exclude_punctuation" {
  description = "EXCLUDE_PUNCTUATION."
  type        = bool
  default     = false
}

variable "exclude_uppercase" {
  description = "EXCLUDE_UPPERCASE."
  type        = bool
  default     = false
}

variable "exclude_lowercase" {
  description = "EXCLUDE_LOWERCASE."
  type        = bool
  default     = false
}

variable "require_each_included_type" {
  description = "REQUIRE_EACH_INCLUDED_TYPE."
  type        = bool
  default     = true
}

variable "include_space" {
  description = "INCLUDE_SPACE."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Managed secrets and rotation
# ---------------------------------------------------------------------------

variable "managed_secrets" {
  description = <<-EOT
    Secrets created by the module and rotated by the rotation Lambda, keyed by secret name.
    The module creates the secret only (no value): put the first value (AWS template JSON:
    engine, host, port, username, password, dbname[, masterarn]) with
    `aws secretsmanager put-secret-value` before the first rotation.
    - description: secret description.
    - rotator: optional value of the `secrets-rotation:rotator` tag (e.g. "postgres"); when null the Lambda picks the rotator from the secret's `engine` field.
    - schedule_expression: rate() or cron() expression; exclusive with automatically_after_days.
    - automatically_after_days: days between rotations; exclusive with schedule_expression.
    - duration: rotation window, e.g. "3h" (only with schedule_expression).
    - recovery_window_in_days: 0 (force delete) or 7-30.
    - tags: extra tags of this secret.
  EOT
  type = map(object({
    description              = optional(string, "Managed by secrets-rotation-service")
    rotator                  = optional(string)
    schedule_expression      = optional(string)
    automatically_after_days = optional(number)
    duration                 = optional(string)
    recovery_window_in_days  = optional(number, 30)
    tags                     = optional(map(string), {})
  }))
  default = {}

  validation {
    condition = alltrue([
      for k, s in var.managed_secrets :
      !(s.schedule_expression != null && s.automatically_after_days != null)
    ])
    error_message = "Set at most one of schedule_expression and automatically_after_days per secret."
  }

  validation {
    condition = alltrue([
      for k, s in var.managed_secrets :
      s.schedule_expression == null || can(regex("^(rate|cron)\\(.+\\)$", s.schedule_expression))
    ])
    error_message = "schedule_expression must be a rate() or cron() expression."
  }

  # Rotate at least every 90 days (CIS / checkov CKV_AWS_304).
  validation {
    condition = alltrue([
      for k, s in var.managed_secrets :
      coalesce(s.automatically_after_days, 0) <= 90 &&
      try(tonumber(regex("^rate\\((\\d+) days?\\)$", s.schedule_expression)[0]), 0) <= 90
    ])
    error_message = "Secrets must rotate at least every 90 days (automatically_after_days / rate(N days) <= 90)."
  }
}

variable "default_schedule_expression" {
  description = "Schedule of managed secrets that set neither schedule_expression nor automatically_after_days."
  type        = string
  default     = "rate(30 days)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.default_schedule_expression)) && try(tonumber(regex("^rate\\((\\d+) days?\\)$", var.default_schedule_expression)[0]), 0) <= 90
    error_message = "default_schedule_expression must be rate() or cron() and rotate at least every 90 days."
  }
}

variable "rotate_immediately" {
  description = "Whether Secrets Manager rotates a secret as soon as its rotation is configured. False: it only runs the testSecret step and rotates at the next window."
  type        = bool
  default     = false
}

variable "rotation_additional_secret_arns" {
  description = "ARNs of secrets created outside the module that the rotation Lambda may also rotate (full rotation permissions, plus an invoke permission for Secrets Manager scoped to each ARN)."
  type        = list(string)
  default     = []
}

variable "rotation_read_only_secret_arns" {
  description = "ARNs the rotation Lambda may only read (GetSecretValue, DescribeSecret), e.g. the superuser secrets named by `masterarn` for the alternating-users strategy."
  type        = list(string)
  default     = []
}

variable "additional_kms_key_arns" {
  description = "KMS keys (other than the module's key) encrypting rotation_additional_secret_arns / rotation_read_only_secret_arns / api_additional_secret_arns. Used only through Secrets Manager (kms:ViaService)."
  type        = list(string)
  default     = []
}

variable "enable_rds_checks" {
  description = "Grant the rotation Lambda rds:DescribeDBInstances and rds:DescribeDBClusters (to check the target is available)."
  type        = bool
  default     = false
}

variable "kms_key_deletion_window_in_days" {
  description = "Deletion window of the customer-managed KMS key."
  type        = number
  default     = 30
}

# ---------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------

variable "jwt_issuer" {
  description = "JWT_ISSUER and the issuer of the API Gateway JWT authorizer (OIDC issuer URL, e.g. https://cognito-idp.<region>.amazonaws.com/<pool-id>)."
  type        = string
}

variable "jwt_audience" {
  description = "JWT_AUDIENCE and the audience list of the API Gateway JWT authorizer (the Lambda receives the first one)."
  type        = list(string)

  validation {
    condition     = length(var.jwt_audience) > 0
    error_message = "jwt_audience must contain at least one audience."
  }
}

variable "jwt_jwks_url" {
  description = "JWT_JWKS_URL: JWKS the API Lambda checks tokens against. Exactly one of jwt_jwks_url and jwt_hs256_secret_arn must be set."
  type        = string
  default     = null
}

variable "jwt_hs256_secret_arn" {
  description = "ARN of a secret holding an HS256 key (JWT_HS256_SECRET_ID). API Gateway's JWT authorizer cannot check HS256 tokens: set enable_api_gateway_authorizer = false with it."
  type        = string
  default     = null
}

variable "enable_api_gateway_authorizer" {
  description = "Put API Gateway's JWT authorizer in front of the protected routes (in addition to the Lambda's own check). Needs an OIDC issuer with a JWKS (RS256/ES256)."
  type        = bool
  default     = true
}

variable "jwt_authorization_scopes" {
  description = "Scopes the API Gateway authorizer requires on protected routes (empty = none)."
  type        = list(string)
  default     = []
}

variable "api_allowed_secrets" {
  description = "ALLOWED_SECRETS: secret-name patterns the API serves (`*` within one `/` segment, `**` across segments). Also turned into IAM resource ARNs. Empty = the managed secrets' names only."
  type        = list(string)
  default     = []
}

variable "api_additional_secret_arns" {
  description = "Extra secret ARNs the API role may read/rotate (besides managed secrets and api_allowed_secrets patterns)."
  type        = list(string)
  default     = []
}

variable "api_allow_get_secret_value" {
  description = "Grant the API secretsmanager:GetSecretValue (GET /get-secret/...). False = metadata only."
  type        = bool
  default     = true
}

variable "api_allow_rotate" {
  description = "Grant the API secretsmanager:RotateSecret (POST /rotate-secret/..., POST /secrets/{name}/rotate)."
  type        = bool
  default     = true
}

variable "api_allow_list" {
  description = "Grant the API secretsmanager:ListSecrets (GET /secrets). ListSecrets has no resource-level permissions, so this grants it on \"*\" (read-only, metadata only; the Lambda filters by ALLOWED_SECRETS)."
  type        = bool
  default     = true
}

variable "cache_ttl_seconds" {
  description = "CACHE_TTL_SECONDS of the API Lambda's secret cache."
  type        = number
  default     = 300
}

variable "rotate_wait_seconds" {
  description = "ROTATE_WAIT_SECONDS: how long a rotate request waits for the rotation to finish. Keep below api_lambda_timeout."
  type        = number
  default     = 20
}

variable "api_throttling_burst_limit" {
  description = "Burst limit of the API's $default stage."
  type        = number
  default     = 50
}

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second of the API's $default stage."
  type        = number
  default     = 20
}

variable "api_cors_allow_origins" {
  description = "CORS allowed origins of the HTTP API (empty = no CORS configuration)."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------
# Events and alarms
# ---------------------------------------------------------------------------

variable "rotation_event_names" {
  description = "Secrets Manager event names forwarded to the SNS topic."
  type        = list(string)
  default = [
    "RotationFailed",
    "RotationAbandoned",
    "RotationSucceeded",
    "CancelRotateSecret",
    "RotationStarted",
  ]
}

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the notification topic (each must confirm the subscription)."
  type        = list(string)
  default     = []
}

variable "alarm_period_seconds" {
  description = "Period of the Lambda error and rotation failure alarms."
  type        = number
  default     = 300
}

variable "metric_namespace" {
  description = "CloudWatch namespace of the rotation failure metric (log metric filter)."
  type        = string
  default     = "SecretsRotationService"
}
