output "api_url" {
  description = "Base URL of the HTTP API ($default stage), e.g. <api_url>/secrets."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "rotation_lambda_arn" {
  description = "ARN of the rotation Lambda (RotationLambdaARN for secrets created outside the module)."
  value       = aws_lambda_function.rotation.arn
}

output "rotation_lambda_name" {
  description = "Name of the rotation Lambda."
  value       = aws_lambda_function.rotation.function_name
}

output "api_lambda_arn" {
  description = "ARN of the API Lambda."
  value       = aws_lambda_function.api.arn
}

output "rotation_lambda_role_arn" {
  description = "ARN of the rotation Lambda's execution role."
  value       = aws_iam_role.rotation.arn
}

output "api_lambda_role_arn" {
  description = "ARN of the API Lambda's execution role."
  value       = aws_iam_role.api.arn
}

output "kms_key_arn" {
  description = "ARN of the customer-managed KMS key (secrets, logs, topic, Lambda environment)."
  value       = aws_kms_key.this.arn
}

output "managed_secret_arns" {
  description = "ARNs of the managed secrets, by name."
  value       = { for k, s in aws_secretsmanager_secret.managed : k => s.arn }
}

output "sns_topic_arn" {
  description = "ARN of the notification topic (rotation events and alarms)."
  value       = aws_sns_topic.notifications.arn
}

output "rotation_log_group_name" {
  description = "Log group of the rotation Lambda (search it for rotation_step_failed)."
  value       = aws_cloudwatch_log_group.rotation.name
}

output "api_log_group_name" {
  description = "Log group of the API Lambda."
  value       = aws_cloudwatch_log_group.api.name
}

output "api_access_log_group_name" {
  description = "Log group of the API's access logs."
  value       = aws_cloudwatch_log_group.api_access.name
}
