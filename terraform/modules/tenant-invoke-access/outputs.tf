output "account_function_arns" {
  description = "The qualified function ARN each tenant account must use in its authorizer, by account id."
  value       = { for account in keys(var.accounts) : account => "${local.function_arn}:${var.account_aliases[account]}" }
}

output "account_invoke_arns" {
  description = "The authorizer URI (API Gateway invoke ARN of the alias, in the region of the tenant APIs) of each tenant account, by account id."
  value = {
    for account in keys(var.accounts) : account => "arn:${local.partition}:apigateway:${local.source_region}:lambda:path/2015-03-31/functions/${local.function_arn}:${var.account_aliases[account]}/invocations"
  }
}

output "statements" {
  description = "Each invoke permission, by account id (every API) or account/api id: its alias, statement id and source ARN."
  value       = local.statements
}

output "source_region" {
  description = "The region of the tenant APIs the permissions admit."
  value       = local.source_region
}

output "statement_invoke_arns" {
  description = "The authorizer URI of each permission (by account id, or account/api id), in the region of its APIs."
  value = {
    for key, st in local.statements : key => "arn:${local.partition}:apigateway:${st.region}:lambda:path/2015-03-31/functions/${local.function_arn}:${st.alias}/invocations"
  }
}
