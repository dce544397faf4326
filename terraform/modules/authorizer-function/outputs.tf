output "function_name" {
  description = "Name of the shared authorizer function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Unqualified ARN of the function (tenants use an alias ARN from tenant-invoke-access instead)."
  value       = aws_lambda_function.this.arn
}

output "function_version" {
  description = "The version published by the last code or configuration change; every alias points at it."
  value       = aws_lambda_function.this.version
}

output "source_code_hash" {
  description = "Base64 SHA-256 of the deployed zip."
  value       = aws_lambda_function.this.source_code_hash
}

output "role_arn" {
  description = "Execution role of the function."
  value       = local.role_arn
}

output "kms_key_arn" {
  description = "The platform's KMS key: encrypt HS* secrets with it (`aws ssm put-parameter --type SecureString --key-id <alias>`)."
  value       = local.key_arn
}

output "kms_key_alias" {
  description = "Alias of the platform's KMS key."
  value       = one(aws_kms_alias.this[*].name)
}

output "log_group_name" {
  description = "The function's log group."
  value       = local.log_group_name
}

output "environment" {
  description = "The TENANT_AUTHZ_* environment of the function."
  value       = local.environment
}

output "alarm_names" {
  description = "Names of the function's alarms, by purpose."
  value = merge(
    { for k, a in aws_cloudwatch_metric_alarm.simple : k => a.alarm_name },
    { unexpected-errors = aws_cloudwatch_metric_alarm.unexpected_errors.alarm_name },
    { duration-p99 = aws_cloudwatch_metric_alarm.duration_p99.alarm_name },
    { for a in aws_cloudwatch_metric_alarm.concurrency : "concurrency" => a.alarm_name },
  )
}

output "alarm_topic_arn" {
  description = "The alarm topic this module created (alarm_topic), or null."
  value       = one(aws_sns_topic.alarms[*].arn)
}

output "alarm_actions" {
  description = "Where every alarm notifies: alarm_actions plus the alarm topic."
  value       = local.alarm_actions
}
