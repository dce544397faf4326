# What on-call looks at (issue 14): one dashboard of the platform, Contributor Insights
# rules for per-tenant views without per-tenant metrics (a custom metric per tenant would
# cost per tenant and month), and the runbooks' Logs Insights queries saved by name.
# The rules and queries are read from JSON files beside this one, which the tests check
# against the decision lines the authorizer writes (tests/tools/test_observability.py).

locals {
  ns  = var.metrics_namespace
  fn  = var.function_name
  lg  = var.log_group_name
  sum = { stat = "Sum", period = 60 }

  metric_widgets = [
    {
      title   = "Decisions by outcome"
      metrics = [[{ expression = "SEARCH('{${local.ns},FunctionName,Outcome} FunctionName=\"${local.fn}\" MetricName=\"Decisions\"', 'Sum', 60)", id = "outcome" }]]
    },
    {
      title   = "Decisions by reason"
      metrics = [[{ expression = "SEARCH('{${local.ns},FunctionName,Reason} FunctionName=\"${local.fn}\" MetricName=\"Decisions\"', 'Sum', 60)", id = "reason" }]]
    },
    {
      title   = "Fault decisions (500)"
      metrics = [[local.ns, "Decisions", "FunctionName", local.fn, "Outcome", "fault", local.sum]]
    },
    {
      title = "Stale serves (keys, config)"
      metrics = [
        [local.ns, "StaleKeyServes", "FunctionName", local.fn, local.sum],
        [local.ns, "StaleConfigServes", "FunctionName", local.fn, local.sum],
      ]
    },
    {
      title = "Key fetches and failures"
      metrics = [
        [local.ns, "JwksFetches", "FunctionName", local.fn, local.sum],
        [local.ns, "JwksFetchFailures", "FunctionName", local.fn, local.sum],
      ]
    },
    {
      title = "Introspection calls and failures (opaque tokens)"
      metrics = [
        [local.ns, "IntrospectionCalls", "FunctionName", local.fn, local.sum],
        [local.ns, "IntrospectionFailures", "FunctionName", local.fn, local.sum],
      ]
    },
    {
      title = "SSM fetches, failures, throttles"
      metrics = [
        [local.ns, "SsmFetches", "FunctionName", local.fn, local.sum],
        [local.ns, "SsmFetchFailures", "FunctionName", local.fn, local.sum],
        [local.ns, "SsmThrottles", "FunctionName", local.fn, local.sum],
      ]
    },
    {
      title = "Lambda: invocations, errors, throttles"
      metrics = [
        ["AWS/Lambda", "Invocations", "FunctionName", local.fn, local.sum],
        ["AWS/Lambda", "Errors", "FunctionName", local.fn, local.sum],
        ["AWS/Lambda", "Throttles", "FunctionName", local.fn, local.sum],
      ]
    },
    {
      title = "Lambda: concurrency and duration"
      metrics = [
        ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", local.fn, { stat = "Maximum", period = 60 }],
        ["AWS/Lambda", "Duration", "FunctionName", local.fn, { stat = "p99", period = 60 }],
      ]
    },
  ]

  log_widgets = [
    {
      title = "Decision latency (ms, p50 / p99) from the decision lines"
      query = "SOURCE '${local.lg}' | filter ispresent(latency_ms) | stats pct(latency_ms, 50) as p50, pct(latency_ms, 99) as p99 by bin(1m)"
    },
    {
      title = "Cold starts (init duration)"
      query = "SOURCE '${local.lg}' | filter @type = \"REPORT\" and ispresent(@initDuration) | stats count(*) as cold_starts, avg(@initDuration) as init_ms by bin(5m)"
    },
  ]

  widgets = concat(
    [for i, w in local.metric_widgets : {
      type   = "metric"
      x      = (i % 2) * 12
      y      = floor(i / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = w.title
        region  = var.region
        view    = "timeSeries"
        stacked = false
        metrics = w.metrics
      }
    }],
    [for i, w in local.log_widgets : {
      type   = "log"
      x      = (i % 2) * 12
      y      = (ceil(length(local.metric_widgets) / 2) + floor(i / 2)) * 6
      width  = 12
      height = 6
      properties = {
        title  = w.title
        region = var.region
        query  = w.query
        view   = "timeSeries"
      }
    }],
  )

  queries = jsondecode(file("${path.module}/queries.json"))
  rules   = jsondecode(file("${path.module}/insight_rules.json"))
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = local.fn
  dashboard_body = jsonencode({ widgets = local.widgets })
}

resource "aws_cloudwatch_contributor_insight_rule" "this" {
  for_each = var.insight_rules ? local.rules : {}

  rule_name  = "${local.fn}-${each.key}"
  rule_state = "ENABLED"
  rule_definition = jsonencode({
    Schema        = { Name = "CloudWatchLogRule", Version = 1 }
    LogGroupNames = [local.lg]
    LogFormat     = "JSON"
    Contribution  = { Keys = each.value.keys, Filters = each.value.filters }
    AggregateOn   = "Count"
  })
  tags = var.tags
}

resource "aws_cloudwatch_query_definition" "runbook" {
  for_each = var.saved_queries ? local.queries : {}

  name            = "${local.fn}/${each.key}"
  log_group_names = [local.lg]
  query_string    = each.value
}
