variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "secrets-rotation"
}

variable "rotation_lambda_zip_path" {
  description = "rotation-lambda zip (scripts/package.sh), relative to this directory."
  type        = string
  default     = "../../../target/lambda/rotation-lambda/bootstrap.zip"
}

variable "api_lambda_zip_path" {
  description = "api-lambda zip (scripts/package.sh), relative to this directory."
  type        = string
  default     = "../../../target/lambda/api-lambda/bootstrap.zip"
}

variable "vpc_subnet_ids" {
  description = "Private subnets of the rotation Lambda (empty = no VPC)."
  type        = list(string)
  default     = []
}

variable "vpc_security_group_ids" {
  description = "Security groups of the rotation Lambda."
  type        = list(string)
  default     = []
}

variable "enable_rds_checks" {
  description = "Allow the rotation Lambda to describe RDS instances and clusters."
  type        = bool
  default     = false
}

variable "managed_secrets" {
  description = "Secrets created and rotated by the module (see the module README)."
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
}

variable "rotate_immediately" {
  description = "Rotate each secret as soon as its rotation is configured."
  type        = bool
  default     = false
}

variable "rotation_read_only_secret_arns" {
  description = "Superuser (masterarn) secrets the rotation Lambda may read."
  type        = list(string)
  default     = []
}

variable "jwt_issuer" {
  description = "OIDC issuer of the API's JWTs."
  type        = string
}

variable "jwt_audience" {
  description = "Accepted audiences of the API's JWTs."
  type        = list(string)
}

variable "jwt_jwks_url" {
  description = "JWKS URL of the issuer."
  type        = string
}

variable "api_allowed_secrets" {
  description = "Secret-name patterns served by the API (empty = the managed secrets)."
  type        = list(string)
  default     = []
}

variable "log_retention_in_days" {
  description = "Retention of the log groups."
  type        = number
  default     = 365
}

variable "api_throttling_burst_limit" {
  description = "API burst limit."
  type        = number
  default     = 50
}

variable "api_throttling_rate_limit" {
  description = "API requests per second."
  type        = number
  default     = 20
}

variable "alarm_email_addresses" {
  description = "E-mail addresses notified of rotation events and alarms."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
