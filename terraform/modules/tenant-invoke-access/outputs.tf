output "account_aliases" {
  description = "Alias of each tenant account, by account id."
  value       = local.alias_of
}

output "account_function_arns" {
  description = "The qualified function ARN each tenant account must use in its authorizer, by account id."
  value       = { for account, alias in local.alias_of : account => aws_lambda_alias.shard[alias].arn }
}

output "account_invoke_arns" {
  description = "The authorizer URI (API Gateway invoke ARN of the alias) of each tenant account, by account id."
  value       = { for account, alias in local.alias_of : account => aws_lambda_alias.shard[alias].invoke_arn }
}

output "statements" {
  description = "Each invoke permission, by account id (every API) or account/api id: its alias, statement id and source ARN."
  value       = local.statements
}

output "alias_policy_bytes" {
  description = "Rendered size in bytes of each alias's resource policy (Lambda's limit: 20,480)."
  value       = local.alias_policy_bytes
}

output "alias_statement_counts" {
  description = "Number of invoke permissions in each alias's policy."
  value       = { for alias, keys in local.alias_statements : alias => length(keys) }
}
