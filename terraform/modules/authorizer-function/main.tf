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
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  account_root   = "arn:${local.partition}:iam::${local.account_id}:root"
  key_admins     = length(var.key_administrator_arns) > 0 ? var.key_administrator_arns : [local.account_root]
  secret_writers = length(var.secret_writer_arns) > 0 ? var.secret_writer_arns : [local.account_root]

  log_group_name = "/aws/lambda/${var.function_name}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"
  parameter_arn  = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.ssm_prefix}/*"
  ssm_service    = "ssm.${local.region}.${local.dns_suffix}"
  lambda_service = "lambda.${local.region}.${local.dns_suffix}"

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
  description             = "${var.function_name}: HS* tenant secrets in SSM, function environment and logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags

  # Least privilege: administrators cannot use the key; the function may only decrypt
  # through SSM or Lambda; secret writers may only encrypt through SSM; CloudWatch Logs
  # may only use it for this function's log group.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "KeyAdministration"
        Effect    = "Allow"
        Principal = { AWS = local.key_admins }
        Action = [
          "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:DeleteAlias",
          "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey",
          "kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
          "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListResourceTags",
          "kms:PutKeyPolicy", "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:TagResource",
          "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
        ]
        Resource = "*"
      },
      {
        Sid       = "FunctionDecryptThroughSsmAndLambda"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.this.arn }
        Action    = "kms:Decrypt"
        Resource  = "*"
        Condition = { StringEquals = { "kms:ViaService" = [local.ssm_service, local.lambda_service] } }
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
        # Whoever deploys the function (a key administrator) lets Lambda encrypt its
        # environment with this key.
        Sid       = "DeployerEncryptsFunctionEnvironment"
        Effect    = "Allow"
        Principal = { AWS = local.key_admins }
        Action    = ["kms:Encrypt", "kms:CreateGrant", "kms:DescribeKey"]
        Resource  = "*"
        Condition = { StringEquals = { "kms:ViaService" = local.lambda_service } }
      },
      {
        Sid       = "CloudWatchLogsForThisFunctionOnly"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.${local.dns_suffix}" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
        Condition = { ArnEquals = { "kms:EncryptionContext:aws:logs:arn" = local.log_group_arn } }
      },
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.function_name}"
  target_key_id = aws_kms_key.this.key_id
}

# ------------------------------------------------------------------------------ IAM

resource "aws_iam_role" "this" {
  name        = "${var.function_name}-function"
  description = "Execution role of the shared tenant authorizer"
  tags        = var.tags

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.${local.dns_suffix}" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "this" {
  name = "least-privilege"
  role = aws_iam_role.this.id

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
        Sid       = "OwnKeyThroughSsmAndLambdaOnly"
        Effect    = "Allow"
        Action    = "kms:Decrypt"
        Resource  = aws_kms_key.this.arn
        Condition = { StringEquals = { "kms:ViaService" = [local.ssm_service, local.lambda_service] } }
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
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

# ------------------------------------------------------------------------------ function

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:An authorizer is invoked synchronously by API Gateway; a dead-letter queue only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:The function must reach tenants' IdPs (JWKS over HTTPS on the internet); a VPC would only add a NAT gateway in the path and a cold-start cost.
  #checkov:skip=CKV_AWS_272:The zip is built reproducibly by `make package` and pinned by source_code_hash; code signing (AWS Signer) is not set up yet, see docs/decisions/0010.
  function_name                  = var.function_name
  description                    = "Shared API Gateway Lambda authorizer for many tenant accounts"
  role                           = aws_iam_role.this.arn
  filename                       = var.package_path
  source_code_hash               = var.package_base64sha256
  handler                        = "tenant_authorizer.handler.handler"
  runtime                        = "python${var.python_version}"
  architectures                  = [var.architecture]
  memory_size                    = var.memory_size
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = aws_kms_key.this.arn
  publish                        = true
  tags                           = var.tags

  environment {
    variables = local.environment
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
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "unexpected_errors" {
  alarm_name          = "${var.function_name}-unexpected-errors"
  alarm_description   = "Invocations failed without a decision (crash, timeout, out of memory): Lambda Errors minus the 401s and faults the function reported."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = var.alarm_thresholds.unexpected_errors
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
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
