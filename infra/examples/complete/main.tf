# Complete example: both Lambdas, managed secrets with rotation, the HTTP API
# with its JWT authorizer, events and alarms.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project = "secrets-rotation-service"
    }
  }
}

module "secrets_rotation" {
  source = "../../modules/secrets-rotation"

  name_prefix = var.name_prefix

  rotation_lambda_zip_path = var.rotation_lambda_zip_path
  api_lambda_zip_path      = var.api_lambda_zip_path

  vpc_subnet_ids         = var.vpc_subnet_ids
  vpc_security_group_ids = var.vpc_security_group_ids
  enable_rds_checks      = var.enable_rds_checks

  managed_secrets                = var.managed_secrets
  rotate_immediately             = var.rotate_immediately
  rotation_read_only_secret_arns = var.rotation_read_only_secret_arns

  jwt_issuer          = var.jwt_issuer
  jwt_audience        = var.jwt_audience
  jwt_jwks_url        = var.jwt_jwks_url
  api_allowed_secrets = var.api_allowed_secrets

  log_retention_in_days      = var.log_retention_in_days
  api_throttling_burst_limit = var.api_throttling_burst_limit
  api_throttling_rate_limit  = var.api_throttling_rate_limit
  alarm_email_addresses      = var.alarm_email_addresses

  tags = var.tags
}
