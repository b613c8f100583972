# Notifications: Secrets Manager rotation events (EventBridge), Lambda errors
# and rotation step failures (CloudWatch alarms) go to one encrypted topic.

resource "aws_sns_topic" "notifications" {
  name              = "${var.name_prefix}-notifications"
  kms_master_key_id = aws_kms_key.this.arn
  tags              = local.common_tags
}

data "aws_iam_policy_document" "sns" {
  statement {
    sid     = "OwnerAccountManagesTopic"
    effect  = "Allow"
    actions = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:ListSubscriptionsByTopic"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    resources = [aws_sns_topic.notifications.arn]
  }

  statement {
    sid       = "EventBridgeRotationEvents"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notifications.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.rotation_events.arn]
    }
  }

  statement {
    sid       = "CloudWatchAlarms"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notifications.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "notifications" {
  arn    = aws_sns_topic.notifications.arn
  policy = data.aws_iam_policy_document.sns.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_email_addresses)

  topic_arn = aws_sns_topic.notifications.arn
  protocol  = "email"
  endpoint  = each.value
}

# Rotation lifecycle events. "AWS Service Event via CloudTrail" carries
# RotationStarted/Succeeded/Failed/Abandoned; "AWS API Call via CloudTrail"
# carries API calls such as CancelRotateSecret (needs a CloudTrail trail).
resource "aws_cloudwatch_event_rule" "rotation_events" {
  name        = "${var.name_prefix}-rotation-events"
  description = "Secrets Manager rotation events"
  event_pattern = jsonencode({
    source      = ["aws.secretsmanager"]
    detail-type = ["AWS API Call via CloudTrail", "AWS Service Event via CloudTrail"]
    detail = {
      eventSource = ["secretsmanager.amazonaws.com"]
      eventName   = var.rotation_event_names
    }
  })
  tags = local.common_tags
}

resource "aws_cloudwatch_event_target" "rotation_events_sns" {
  rule      = aws_cloudwatch_event_rule.rotation_events.name
  target_id = "sns"
  arn       = aws_sns_topic.notifications.arn
}

# Any error (crash, timeout, failed step returned to Secrets Manager).
resource "aws_cloudwatch_metric_alarm" "rotation_errors" {
  alarm_name          = "${var.name_prefix}-rotation-lambda-errors"
  alarm_description   = "The rotation Lambda returned errors: a rotation step failed. See the runbook in infra/README.md."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  dimensions = {
    FunctionName = aws_lambda_function.rotation.function_name
  }
  alarm_actions = [aws_sns_topic.notifications.arn]
  ok_actions    = [aws_sns_topic.notifications.arn]
  tags          = local.common_tags
}

resource "aws_cloudwatch_metric_alarm" "api_errors" {
  alarm_name          = "${var.name_prefix}-api-lambda-errors"
  alarm_description   = "The API Lambda returned errors."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  dimensions = {
    FunctionName = aws_lambda_function.api.function_name
  }
  alarm_actions = [aws_sns_topic.notifications.arn]
  tags          = local.common_tags
}

# The rotation Lambda logs one JSON line per failed step:
#   {"level":"ERROR","fields":{"event":"rotation_step_failed",...},...}
# (tracing-subscriber's JSON format puts event fields under "fields").
resource "aws_cloudwatch_log_metric_filter" "rotation_step_failed" {
  name           = "${var.name_prefix}-rotation-step-failed"
  log_group_name = aws_cloudwatch_log_group.rotation.name
  pattern        = "{ $.fields.event = \"rotation_step_failed\" }"

  metric_transformation {
    name          = "RotationStepFailed"
    namespace     = var.metric_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "rotation_step_failed" {
  alarm_name          = "${var.name_prefix}-rotation-step-failed"
  alarm_description   = "A rotation step failed (log event rotation_step_failed). See the runbook in infra/README.md."
  namespace           = var.metric_namespace
  metric_name         = "RotationStepFailed"
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.notifications.arn]
  ok_actions          = [aws_sns_topic.notifications.arn]
  tags                = local.common_tags

  depends_on = [aws_cloudwatch_log_metric_filter.rotation_step_failed]
}
