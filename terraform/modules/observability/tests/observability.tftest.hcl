mock_provider "aws" {}

variables {
  function_name  = "tenant-authorizer"
  log_group_name = "/aws/lambda/tenant-authorizer"
  region         = "us-east-1"
}

run "the_dashboard_shows_what_on_call_needs" {
  command = plan

  assert {
    condition = alltrue([for m in ["Decisions", "StaleKeyServes", "StaleConfigServes", "JwksFetches", "JwksFetchFailures", "SsmFetches", "SsmFetchFailures", "SsmThrottles", "IntrospectionCalls", "IntrospectionFailures", "Errors", "Throttles", "ConcurrentExecutions", "Invocations"] :
    strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "\"${m}\"") || strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "MetricName=\\\"${m}\\\"")])
    error_message = "Every metric on-call reads is on the dashboard."
  }

  assert {
    condition     = strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "latency_ms") && strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "@initDuration")
    error_message = "Latency (from the decision lines) and cold starts (REPORT lines) are shown."
  }

  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) == 11
    error_message = "Nine metric widgets and two log widgets."
  }
}

run "rules_and_queries" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_contributor_insight_rule.this) == 3 && alltrue([for r in aws_cloudwatch_contributor_insight_rule.this : jsondecode(r.rule_definition).LogFormat == "JSON" && jsondecode(r.rule_definition).LogGroupNames == ["/aws/lambda/tenant-authorizer"]])
    error_message = "Three Contributor Insights rules over the function's JSON decision lines."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_contributor_insight_rule.this["reasons-by-tenant"].rule_definition).Contribution.Keys == ["$.tenant_id", "$.reason"]
    error_message = "Top reasons per tenant: keyed on tenant and reason."
  }

  assert {
    condition     = length(aws_cloudwatch_query_definition.runbook) == 5 && alltrue([for q in aws_cloudwatch_query_definition.runbook : startswith(q.name, "tenant-authorizer/")])
    error_message = "One saved query per runbook query, named under the function."
  }
}

run "what_moto_cannot_apply_can_be_left_off" {
  command = plan

  variables {
    saved_queries = false
    insight_rules = false
  }

  assert {
    condition     = length(aws_cloudwatch_query_definition.runbook) == 0 && length(aws_cloudwatch_contributor_insight_rule.this) == 0
    error_message = "saved_queries = false and insight_rules = false create none."
  }
}
