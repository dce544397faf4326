# The shared authorizer function and everything it needs to run: its KMS key, its role,
# its log group and its alarms. Tenants, aliases and invoke permissions live in the
# tenant-registry and tenant-invoke-access modules, so onboarding a tenant never
# touches (or redeploys) the function.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  dns_suffix = data.aws_partition.current.dns_suffix
  region     = data.aws_region.current.id
  account_id = data.aws_caller_identity.current.account_id

  account_root   = "arn:${local.partition}:iam::${local.account_id}:root"
  key_admins     = length(var.key_administrator_arns) > 0 ? var.key_administrator_arns : [local.account_root]
  secret_writers = length(var.secret_writer_arns) > 0 ? var.secret_writer_arns : [local.account_root]

  create_role      = var.existing_role_arn == null
  create_key       = var.existing_kms_key_arn == null
  create_log_group = var.existing_log_group_name == null
  role_arn         = local.create_role ? aws_iam_role.this[0].arn : var.existing_role_arn
  key_arn          = local.create_key ? aws_kms_key.this[0].arn : var.existing_kms_key_arn

  log_group_name = coalesce(var.existing_log_group_name, "/aws/lambda/${var.function_name}")
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"
  parameter_arn  = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.ssm_prefix}/*"
  ssm_service    = "ssm.${local.region}.${local.dns_suffix}"

  environment = {
    TENANT_AUTHZ_SSM_PREFIX             = var.ssm_prefix
    TENANT_AUTHZ_CONFIG_TTL_SECONDS     = tostring(var.runtime_settings.config_ttl_seconds)
    TENANT_AUTHZ_CONFIG_STALE_SECONDS   = tostring(var.runtime_settings.config_stale_seconds)
    TENANT_AUTHZ_CONFIG_BUDGET_SECONDS  = tostring(var.runtime_settings.config_budget_seconds)
    TENANT_AUTHZ_JWKS_MAX_AGE_SECONDS   = tostring(var.runtime_settings.jwks_max_age_seconds)
    TENANT_AUTHZ_JWKS_STALE_SECONDS     = tostring(var.runtime_settings.jwks_stale_seconds)
    TENANT_AUTHZ_KID_COOLDOWN_SECONDS   = tostring(var.runtime_settings.kid_cooldown_seconds)
    TENANT_AUTHZ_NETWORK_BUDGET_SECONDS = tostring(var.runtime_settings.network_budget_seconds)
    TENANT_AUTHZ_FETCH_TIMEOUT_SECONDS  = tostring(var.runtime_settings.fetch_timeout_seconds)
    TENANT_AUTHZ_METRICS_NAMESPACE      = var.runtime_settings.metrics_namespace
    TENANT_AUTHZ_LOG_LEVEL              = var.runtime_settings.log_level
  }
}

# ------------------------------------------------------------------------------ KMS

resource "aws_kms_key" "this" {
  count = local.create_key ? 1 : 0

  description             = "${var.function_name}: HS* tenant secrets in SSM, logs and the alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags

  # Least privilege. Administrators manage the key but cannot use it and cannot grant
  # its use (no kms:CreateGrant); whoever holds kms:PutKeyPolicy (KMS requires someone:
  # the administrators) can still rewrite this policy to grant themselves anything, so
  # key_administrator_arns is the trust boundary (docs/security.md). The function may
  # only decrypt through SSM; secret writers may only encrypt through SSM; CloudWatch
  # Logs only for this function's log group; CloudWatch alarms only to publish to the
  # alarm topic. The function's environment holds no secret and uses Lambda's own key
  # (decision 0024): a customer key there would hide it from every deployer without
  # kms:Decrypt, and every plan would see it change.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid       = "KeyAdministration"
        Effect    = "Allow"
        Principal = { AWS = local.key_admins }
        Action = [
          "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias",
          "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey",
          "kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
          "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListResourceTags",
          "kms:PutKeyPolicy", "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:TagResource",
          "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
        ]
        Resource = "*"
      },
      {
        Sid       = "FunctionDecryptThroughSsm"
        Effect    = "Allow"
        Principal = { AWS = local.role_arn }
        Action    = "kms:Decrypt"
        Resource  = "*"
        Condition = { StringEquals = { "kms:ViaService" = local.ssm_service } }
      },
      {
        Sid       = "SecretWritersEncryptThroughSsm"
        Effect    = "Allow"
        Principal = { AWS = local.secret_writers }
        Action    = ["kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
        Resource  = "*"
        Condition = { StringEquals = { "kms:ViaService" = local.ssm_service } }
      },
      {
        Sid       = "CloudWatchLogsForThisFunctionOnly"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.${local.dns_suffix}" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
        Condition = { ArnEquals = { "kms:EncryptionContext:aws:logs:arn" = local.log_group_arn } }
      },
      ], local.create_topic ? [
      {
        # An alarm publishing to the encrypted topic: CloudWatch encrypts the message for SNS.
        Sid       = "CloudWatchAlarmsPublishToTheAlarmTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.${local.dns_suffix}" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.function_name}-*" }
        }
      },
    ] : [])
  })
}

resource "aws_kms_alias" "this" {
  count = local.create_key ? 1 : 0

  name          = "alias/${var.function_name}"
  target_key_id = aws_kms_key.this[0].key_id
}

# ------------------------------------------------------------------------------ IAM

resource "aws_iam_role" "this" {
  count = local.create_role ? 1 : 0

  name                 = "${var.function_name}-function"
  description          = "Execution role of the shared tenant authorizer"
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.${local.dns_suffix}" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# A role brought with existing_role_arn gets no policy from here: it needs the same
# statements (docs/architecture.md, "Bring your own").
resource "aws_iam_role_policy" "this" {
  count = local.create_role ? 1 : 0

  name = "least-privilege"
  role = aws_iam_role.this[0].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "OwnLogGroupOnly"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${local.log_group_arn}:*"
      },
      {
        Sid    = "OwnSsmPrefixOnly"
        Effect = "Allow"
        # GetParameters: documents and change-index markers, ten names a call (decision 0019).
        Action   = ["ssm:GetParameter", "ssm:GetParameters"]
        Resource = local.parameter_arn
      },
      {
        Sid       = "OwnKeyThroughSsmOnly"
        Effect    = "Allow"
        Action    = "kms:Decrypt"
        Resource  = local.key_arn
        Condition = { StringEquals = { "kms:ViaService" = local.ssm_service } }
      },
      {
        # X-Ray actions take no resource ARNs: "*" is the only valid resource.
        Sid      = "Tracing"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = "*"
      },
    ]
  })
}

# ------------------------------------------------------------------------------ logs

resource "aws_cloudwatch_log_group" "this" {
  count = local.create_log_group ? 1 : 0

  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = local.key_arn
  tags              = var.tags
}

# ------------------------------------------------------------------------------ code signing
# Off by default (code_signing = null); moto has no code signing, so terraform test plans it.

resource "aws_lambda_code_signing_config" "this" {
  count = var.code_signing == null ? 0 : 1

  description = "${var.function_name}: only zips signed by these profiles deploy"
  allowed_publishers {
    signing_profile_version_arns = var.code_signing.signing_profile_version_arns
  }
  policies {
    untrusted_artifact_on_deployment = var.code_signing.untrusted_artifact_on_deployment
  }
}

# ------------------------------------------------------------------------------ function

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:An authorizer is invoked synchronously by API Gateway; a dead-letter queue only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:The function must reach tenants' IdPs (JWKS over HTTPS on the internet); a VPC would only add a NAT gateway in the path and a cold-start cost.
  #checkov:skip=CKV_AWS_272:Code signing is an option (code_signing), off by default: the zip is built reproducibly by `make package` and pinned by source_code_hash (decision 0024).
  #checkov:skip=CKV_AWS_173:The environment holds no secret (prefix, TTLs, log level); Lambda's own key encrypts it, so deployers without kms:Decrypt still see it and plans stay stable (decision 0024).
  function_name                  = var.function_name
  description                    = "Shared API Gateway Lambda authorizer for many tenant accounts"
  role                           = local.role_arn
  filename                       = var.package_path
  source_code_hash               = var.package_base64sha256
  handler                        = "tenant_authorizer.handler.handler"
  runtime                        = "python${var.python_version}"
  architectures                  = [var.architecture]
  memory_size                    = var.memory_size
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency
  code_signing_config_arn        = var.code_signing == null ? null : aws_lambda_code_signing_config.this[0].arn
  publish                        = true
  tags                           = var.tags

  environment {
    variables = local.environment
  }

  # A log group brought with existing_log_group_name; the default is Lambda's own name.
  dynamic "logging_config" {
    for_each = local.create_log_group ? [] : [local.log_group_name]
    content {
      log_format = "Text"
      log_group  = logging_config.value
    }
  }

  tracing_config {
    mode = var.tracing_mode
  }

  # The log group must exist first (with its retention and key), or Lambda creates an
  # unmanaged one on the first invocation.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

# ------------------------------------------------------------------------------ alarms
# A 401 is delivered by raising Exception("Unauthorized"), so Lambda's Errors metric
# counts every rejected token: a plain Errors > 0 alarm would page on normal traffic.
# See docs/decisions/0009-alarms.md.

# An optional topic for the alarms, encrypted with the platform key: an alarm that
# notifies no one is silence. alarm_actions adds other ARNs (an existing topic, ...).
locals {
  create_topic  = var.alarm_topic != null
  alarm_actions = concat(var.alarm_actions, aws_sns_topic.alarms[*].arn)
}

resource "aws_sns_topic" "alarms" {
  count = local.create_topic ? 1 : 0

  name              = coalesce(var.alarm_topic.name, "${var.function_name}-alarms")
  kms_master_key_id = local.key_arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "alarms" {
  count = local.create_topic ? 1 : 0

  arn = aws_sns_topic.alarms[0].arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AlarmsOfThisAccountOnly"
      Effect    = "Allow"
      Principal = { Service = "cloudwatch.${local.dns_suffix}" }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.alarms[0].arn
      Condition = { ArnLike = { "aws:SourceArn" = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.function_name}-*" } }
    }]
  })
}

resource "aws_sns_topic_subscription" "alarms" {
  for_each = local.create_topic ? { for s in var.alarm_topic.subscriptions : "${s.protocol}:${s.endpoint}" => s } : {}

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

locals {
  namespace = var.runtime_settings.metrics_namespace

  simple_alarms = {
    fault-decisions = {
      description = "The authorizer answered 500 (platform fault: no usable tenant config, keys or secret). See docs/runbooks."
      namespace   = local.namespace
      metric      = "Decisions"
      dimensions  = { FunctionName = var.function_name, Outcome = "fault" }
      period      = 60
      evaluations = 3
      datapoints  = 2
      threshold   = var.alarm_thresholds.fault_decisions
    }
    throttles = {
      description = "Invocations of the authorizer were throttled: API Gateway answered 500. Raise reserved_concurrency."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = { FunctionName = var.function_name }
      period      = 60
      evaluations = 1
      datapoints  = 1
      threshold   = var.alarm_thresholds.throttles
    }
    stale-key-serves = {
      description = "Tokens were verified with last-good keys past their max-age: an IdP's JWKS endpoint is failing. See docs/runbooks."
      namespace   = local.namespace
      metric      = "StaleKeyServes"
      dimensions  = { FunctionName = var.function_name }
      period      = 300
      evaluations = 1
      datapoints  = 1
      threshold   = var.alarm_thresholds.stale_key_serves
    }
    stale-config-serves = {
      description = "Tenant configs were served past their TTL: SSM reads are failing."
      namespace   = local.namespace
      metric      = "StaleConfigServes"
      dimensions  = { FunctionName = var.function_name }
      period      = 300
      evaluations = 1
      datapoints  = 1
      threshold   = var.alarm_thresholds.stale_config_serves
    }
    ssm-throttles = {
      description = "SSM throttled the function's reads: the account's Parameter Store throughput is spent (cold bursts, or another user of the same account and region). See docs/runbooks/ssm-outage.md."
      namespace   = local.namespace
      metric      = "SsmThrottles"
      dimensions  = { FunctionName = var.function_name }
      period      = 300
      evaluations = 1
      datapoints  = 1
      threshold   = var.alarm_thresholds.ssm_throttles
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "simple" {
  for_each = local.simple_alarms

  alarm_name          = "${var.function_name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = "Sum"
  period              = each.value.period
  evaluation_periods  = each.value.evaluations
  datapoints_to_alarm = each.value.datapoints
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "unexpected_errors" {
  alarm_name          = "${var.function_name}-unexpected-errors"
  alarm_description   = "Invocations failed without a decision (crash, timeout, out of memory): Lambda Errors minus the 401s and faults the function reported."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = var.alarm_thresholds.unexpected_errors
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  metric_query {
    id          = "unexpected"
    expression  = "errors - FILL(unauthorized, 0) - FILL(faults, 0)"
    label       = "Errors without a decision"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = { FunctionName = var.function_name }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "unauthorized"
    metric {
      namespace   = local.namespace
      metric_name = "Decisions"
      dimensions  = { FunctionName = var.function_name, Outcome = "unauthorized" }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "faults"
    metric {
      namespace   = local.namespace
      metric_name = "Decisions"
      dimensions  = { FunctionName = var.function_name, Outcome = "fault" }
      stat        = "Sum"
      period      = 300
    }
  }
}

# Every tenant shares the reserved concurrency: a flood of uncacheable tokens for one
# tenant takes instances from all (docs/architecture.md, "Sizing the reserved
# concurrency"). The alarm fires before Lambda throttles.
resource "aws_cloudwatch_metric_alarm" "concurrency" {
  count = var.reserved_concurrency > 0 ? 1 : 0

  alarm_name          = "${var.function_name}-concurrency"
  alarm_description   = "Concurrent executions above ${var.alarm_thresholds.concurrency_percent}% of the reserved ${var.reserved_concurrency}: throttles (API Gateway 500s for every tenant) come next. Raise reserved_concurrency or find the tenant flooding (docs/runbooks/deny-spike.md)."
  namespace           = "AWS/Lambda"
  metric_name         = "ConcurrentExecutions"
  dimensions          = { FunctionName = var.function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = floor(var.reserved_concurrency * var.alarm_thresholds.concurrency_percent / 100)
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# A warm decision takes well under a millisecond; p99 near the network budget means
# decisions wait on IdPs or SSM (docs/runbooks/idp-outage.md, ssm-outage.md).
resource "aws_cloudwatch_metric_alarm" "duration_p99" {
  alarm_name          = "${var.function_name}-duration-p99"
  alarm_description   = "p99 duration above ${var.alarm_thresholds.duration_p99_ms} ms: decisions wait on an IdP or SSM, and hold concurrency while they do."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = var.function_name }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = var.alarm_thresholds.duration_p99_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
