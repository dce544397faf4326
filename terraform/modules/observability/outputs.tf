output "dashboard_name" {
  description = "The CloudWatch dashboard of the platform."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "insight_rule_names" {
  description = "Contributor Insights rules, by purpose."
  value       = { for k, r in aws_cloudwatch_contributor_insight_rule.this : k => r.rule_name }
}

output "saved_query_names" {
  description = "Saved Logs Insights queries, one per runbook step that has one."
  value       = { for k, q in aws_cloudwatch_query_definition.runbook : k => q.name }
}
