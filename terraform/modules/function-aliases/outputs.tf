output "alias_names" {
  description = "Names of the aliases, shard-000 first."
  value       = aws_lambda_alias.shard[*].name
}

output "alias_arns" {
  description = "Qualified function ARN of each alias, by alias name."
  value       = { for a in aws_lambda_alias.shard : a.name => a.arn }
}
