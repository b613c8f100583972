# HTTP API (payload format 2.0) in front of the API Lambda. Protected routes
# go through API Gateway's JWT authorizer; the Lambda checks the token again.

resource "aws_apigatewayv2_api" "this" {
  name          = "${var.name_prefix}-api"
  description   = "secrets-rotation-service API"
  protocol_type = "HTTP"

  dynamic "cors_configuration" {
    for_each = length(var.api_cors_allow_origins) > 0 ? [1] : []
    content {
      allow_origins = var.api_cors_allow_origins
      allow_methods = ["GET", "POST"]
      allow_headers = ["authorization", "content-type"]
      max_age       = 300
    }
  }

  tags = local.common_tags
}

resource "aws_apigatewayv2_integration" "api" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.api.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count = var.enable_api_gateway_authorizer ? 1 : 0

  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name_prefix}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

locals {
  # Routes behind the JWT authorizer. Secret names may contain "/", hence the
  # greedy path variables; the Lambda itself splits off the "/rotate" and
  # "/rotation" suffixes under /secrets/.
  protected_routes = toset([
    "GET /secrets",
    "GET /secrets/{name+}",
    "POST /secrets/{name+}",
    "GET /get-secret/{name+}",
    "POST /rotate-secret/{name+}",
  ])

  # Public routes (no secret data): the OpenAPI document and the health check.
  public_routes = toset([
    "GET /openapi.json",
    "GET /healthz",
  ])
}

resource "aws_apigatewayv2_route" "protected" {
  for_each = local.protected_routes

  api_id               = aws_apigatewayv2_api.this.id
  route_key            = each.value
  target               = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type   = var.enable_api_gateway_authorizer ? "JWT" : "NONE"
  authorizer_id        = var.enable_api_gateway_authorizer ? aws_apigatewayv2_authorizer.jwt[0].id : null
  authorization_scopes = var.enable_api_gateway_authorizer && length(var.jwt_authorization_scopes) > 0 ? var.jwt_authorization_scopes : null
}

resource "aws_apigatewayv2_route" "public" {
  #checkov:skip=CKV_AWS_309:GET /openapi.json and GET /healthz are intentionally public: they return the API description and a liveness answer, never secret data.
  for_each = local.public_routes

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = "NONE"
}

resource "aws_cloudwatch_log_group" "api_access" {
  name              = local.api_access_log_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.common_tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      ip                 = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      routeKey           = "$context.routeKey"
      path               = "$context.path"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      authorizerError    = "$context.authorizer.error"
      principal          = "$context.authorizer.claims.sub"
    })
  }

  default_route_settings {
    throttling_burst_limit   = var.api_throttling_burst_limit
    throttling_rate_limit    = var.api_throttling_rate_limit
    detailed_metrics_enabled = true
  }

  tags = local.common_tags
}

resource "aws_lambda_permission" "apigateway" {
  statement_id   = "AllowHttpApi"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.api.function_name
  principal      = "apigateway.amazonaws.com"
  source_account = local.account_id
  source_arn     = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}
