output "function_arn" {
  description = "Unqualified ARN of the shared authorizer function (tenants use an alias ARN: terraform/tenants output tenants)."
  value       = module.function.function_arn
}

output "alias_arns" {
  description = "Qualified function ARN of each alias, by alias name."
  value       = module.aliases.alias_arns
}

output "function_name" {
  description = "Name of the shared authorizer function."
  value       = module.function.function_name
}

output "function_version" {
  description = "Version this apply published; aliases move to it only with tenant-authz release."
  value       = module.function.function_version
}

output "source_code_hash" {
  description = "Base64 SHA-256 of the deployed zip."
  value       = module.function.source_code_hash
}

output "kms_key_alias" {
  description = "Alias of the platform KMS key, for `aws ssm put-parameter --type SecureString --key-id`."
  value       = module.function.kms_key_alias
}

output "log_group_name" {
  description = "Log group of the function."
  value       = module.function.log_group_name
}

output "alarm_names" {
  description = "Alarms of the function, by purpose."
  value       = module.function.alarm_names
}

output "dashboard_name" {
  description = "The CloudWatch dashboard of the platform."
  value       = module.observability.dashboard_name
}

output "insight_rule_names" {
  description = "Contributor Insights rules (top tenants by denials and faults, top reasons per tenant)."
  value       = module.observability.insight_rule_names
}

output "alarm_topic_arn" {
  description = "The alarm topic (alarm_topic), or null."
  value       = module.function.alarm_topic_arn
}
