output "api_url" {
  description = "Base URL of the HTTP API."
  value       = module.secrets_rotation.api_url
}

output "rotation_lambda_arn" {
  description = "ARN of the rotation Lambda."
  value       = module.secrets_rotation.rotation_lambda_arn
}

output "api_lambda_arn" {
  description = "ARN of the API Lambda."
  value       = module.secrets_rotation.api_lambda_arn
}

output "managed_secret_arns" {
  description = "ARNs of the managed secrets."
  value       = module.secrets_rotation.managed_secret_arns
}

output "kms_key_arn" {
  description = "ARN of the customer-managed KMS key."
  value       = module.secrets_rotation.kms_key_arn
}

output "sns_topic_arn" {
  description = "Notification topic (subscribe to it)."
  value       = module.secrets_rotation.sns_topic_arn
}

output "rotation_log_group_name" {
  description = "Log group of the rotation Lambda."
  value       = module.secrets_rotation.rotation_log_group_name
}
