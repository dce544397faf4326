# The function, its role, key, log group and alarms; one run per validation block.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_region" {
    defaults = { id = "us-east-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "999999999999" }
  }
  mock_resource "aws_iam_role" {
    override_during = plan
    defaults        = { arn = "arn:aws:iam::999999999999:role/tenant-authorizer-function" }
  }
  mock_resource "aws_kms_key" {
    override_during = plan
    defaults        = { arn = "arn:aws:kms:us-east-1:999999999999:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" }
  }
}

variables {
  package_path         = "build/lambda-arm64-py3.12.zip"
  package_base64sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

run "function_defaults" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.runtime == "python3.12" && aws_lambda_function.this.architectures == tolist(["arm64"])
    error_message = "The default runtime is Python 3.12 on arm64."
  }

  assert {
    condition     = aws_lambda_function.this.handler == "tenant_authorizer.handler.handler" && aws_lambda_function.this.publish
    error_message = "The handler is tenant_authorizer.handler.handler and every change publishes a version."
  }

  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      TENANT_AUTHZ_SSM_PREFIX             = "/tenant-authorizer"
      TENANT_AUTHZ_CONFIG_TTL_SECONDS     = "60"
      TENANT_AUTHZ_CONFIG_STALE_SECONDS   = "900"
      TENANT_AUTHZ_CONFIG_BUDGET_SECONDS  = "2"
      TENANT_AUTHZ_JWKS_MAX_AGE_SECONDS   = "600"
      TENANT_AUTHZ_JWKS_STALE_SECONDS     = "3600"
      TENANT_AUTHZ_KID_COOLDOWN_SECONDS   = "30"
      TENANT_AUTHZ_NETWORK_BUDGET_SECONDS = "3"
      TENANT_AUTHZ_FETCH_TIMEOUT_SECONDS  = "1.5"
      TENANT_AUTHZ_METRICS_NAMESPACE      = "TenantAuthorizer"
      TENANT_AUTHZ_LOG_LEVEL              = "INFO"
    })
    error_message = "The environment must carry every TENANT_AUTHZ_* setting with its default."
  }

  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == 100 && aws_lambda_function.this.source_code_hash == var.package_base64sha256
    error_message = "Reserved concurrency and the code hash come from the variables."
  }

  assert {
    condition     = aws_kms_key.this[0].enable_key_rotation && aws_cloudwatch_log_group.this[0].retention_in_days == 365
    error_message = "The key rotates and the logs are kept a year by default."
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.this[0].policy).Statement[1].Resource == "arn:aws:ssm:us-east-1:999999999999:parameter/tenant-authorizer/*" && jsondecode(aws_iam_role_policy.this[0].policy).Statement[1].Action == ["ssm:GetParameter", "ssm:GetParameters"]
    error_message = "The role may only read its own SSM prefix."
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.this[0].policy).Statement[2].Resource == "arn:aws:kms:us-east-1:999999999999:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    error_message = "The role may only decrypt with its own key."
  }

  assert {
    condition     = toset(keys(output.alarm_names)) == toset(["fault-decisions", "throttles", "stale-key-serves", "stale-config-serves", "ssm-throttles", "unexpected-errors", "concurrency", "duration-p99"])
    error_message = "Alarms: fault decisions, throttles, stale keys, stale configs, errors without a decision, concurrency against the reservation, p99 duration."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.simple["fault-decisions"].dimensions == tomap({ FunctionName = "tenant-authorizer", Outcome = "fault" }) && aws_cloudwatch_metric_alarm.simple["fault-decisions"].namespace == "TenantAuthorizer"
    error_message = "The fault alarm watches Decisions{Outcome=fault} of the function's EMF namespace."
  }

  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.unexpected_errors.metric_query : q.expression if q.id == "unexpected"]) == "errors - FILL(unauthorized, 0) - FILL(faults, 0)"
    error_message = "The errors alarm must subtract the 401s and faults the function reported from Lambda's Errors."
  }
}

run "x86_64_python_3_13" {
  command = plan

  variables {
    architecture   = "x86_64"
    python_version = "3.13"
  }

  assert {
    condition     = aws_lambda_function.this.runtime == "python3.13" && aws_lambda_function.this.architectures == tolist(["x86_64"])
    error_message = "Architecture and runtime follow the variables."
  }
}

run "partition_aws_cn" {
  command = plan

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-cn", dns_suffix = "amazonaws.com.cn" }
  }
  override_data {
    target = data.aws_region.current
    values = { id = "cn-north-1" }
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.this[0].policy).Statement[1].Resource == "arn:aws-cn:ssm:cn-north-1:999999999999:parameter/tenant-authorizer/*"
    error_message = "SSM ARNs must use the aws-cn partition."
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.this[0].policy).Statement[2].Condition.StringEquals["kms:ViaService"] == "ssm.cn-north-1.amazonaws.com.cn"
    error_message = "Service endpoints in China end in amazonaws.com.cn."
  }

  assert {
    condition     = jsondecode(aws_kms_key.this[0].policy).Statement[0].Principal.AWS == ["arn:aws-cn:iam::999999999999:root"]
    error_message = "The key administrator defaults to the account root of the aws-cn partition."
  }
}

run "partition_aws_us_gov" {
  command = plan

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-us-gov", dns_suffix = "amazonaws.com" }
  }
  override_data {
    target = data.aws_region.current
    values = { id = "us-gov-west-1" }
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.this[0].policy).Statement[0].Resource == "arn:aws-us-gov:logs:us-gov-west-1:999999999999:log-group:/aws/lambda/tenant-authorizer:*"
    error_message = "Log ARNs must use the aws-us-gov partition."
  }
}

run "function_name_is_short" {
  command = plan
  variables {
    function_name = "a-name-that-is-far-too-long-for-the-role-and-alarm-suffixes-x"
  }
  expect_failures = [var.function_name]
}

run "package_is_a_zip" {
  command = plan
  variables {
    package_path = "build/lambda.tar.gz"
  }
  expect_failures = [var.package_path]
}

run "package_hash_is_base64_sha256" {
  command = plan
  variables {
    package_base64sha256 = "deadbeef"
  }
  expect_failures = [var.package_base64sha256]
}

run "architecture_is_known" {
  command = plan
  variables {
    architecture = "aarch64"
  }
  expect_failures = [var.architecture]
}

run "python_version_is_supported" {
  command = plan
  variables {
    python_version = "3.11"
  }
  expect_failures = [var.python_version]
}

run "memory_size_is_bounded" {
  command = plan
  variables {
    memory_size = 64
  }
  expect_failures = [var.memory_size]
}

run "timeout_fits_api_gateway" {
  command = plan
  variables {
    timeout_seconds = 30
  }
  expect_failures = [var.timeout_seconds]
}

run "reserved_concurrency_is_positive_or_unreserved" {
  command = plan
  variables {
    reserved_concurrency = 0
  }
  expect_failures = [var.reserved_concurrency]
}

run "ssm_prefix_is_absolute" {
  command = plan
  variables {
    ssm_prefix = "tenant-authorizer"
  }
  expect_failures = [var.ssm_prefix]
}

run "runtime_seconds_are_whole" {
  command = plan
  variables {
    runtime_settings = { config_ttl_seconds = 1.5 }
  }
  expect_failures = [var.runtime_settings]
}

run "stale_windows_extend_ttls" {
  command = plan
  variables {
    runtime_settings = { config_ttl_seconds = 600, config_stale_seconds = 60 }
  }
  expect_failures = [var.runtime_settings]
}

run "network_budget_fits_the_timeout" {
  command = plan
  variables {
    timeout_seconds  = 6
    runtime_settings = { network_budget_seconds = 3 }
  }
  expect_failures = [var.runtime_settings]
}

run "config_budget_fits_the_timeout" {
  command = plan
  variables {
    timeout_seconds  = 10
    runtime_settings = { config_budget_seconds = 3 }
  }
  expect_failures = [var.runtime_settings]
}

run "one_fetch_fits_the_budget" {
  command = plan
  variables {
    runtime_settings = { network_budget_seconds = 2, fetch_timeout_seconds = 2.5 }
  }
  expect_failures = [var.runtime_settings]
}

run "metrics_namespace_is_not_aws" {
  command = plan
  variables {
    runtime_settings = { metrics_namespace = "AWS/Lambda" }
  }
  expect_failures = [var.runtime_settings]
}

run "log_level_is_known" {
  command = plan
  variables {
    runtime_settings = { log_level = "TRACE" }
  }
  expect_failures = [var.runtime_settings]
}

run "log_retention_is_a_cloudwatch_value" {
  command = plan
  variables {
    log_retention_days = 42
  }
  expect_failures = [var.log_retention_days]
}

run "tracing_mode_is_known" {
  command = plan
  variables {
    tracing_mode = "Off"
  }
  expect_failures = [var.tracing_mode]
}

run "key_administrators_are_iam_arns" {
  command = plan
  variables {
    key_administrator_arns = ["*"]
  }
  expect_failures = [var.key_administrator_arns]
}

run "secret_writers_are_iam_arns" {
  command = plan
  variables {
    secret_writer_arns = ["arn:aws:iam::999999999999:group/ops"]
  }
  expect_failures = [var.secret_writer_arns]
}

run "alarm_actions_are_arns" {
  command = plan
  variables {
    alarm_actions = ["oncall@example.com"]
  }
  expect_failures = [var.alarm_actions]
}

run "alarm_thresholds_are_counts" {
  command = plan
  variables {
    alarm_thresholds = { throttles = -1 }
  }
  expect_failures = [var.alarm_thresholds]
}


# -- issue 16: traps a platform team would find in production

run "environment_uses_lambdas_own_key" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.kms_key_arn == null
    error_message = "The environment holds no secret: with a customer key, deployers without kms:Decrypt see it change on every plan and every apply moves the aliases."
  }

  assert {
    condition     = alltrue([for s in jsondecode(aws_kms_key.this[0].policy).Statement : !contains(flatten([try(s.Condition.StringEquals["kms:ViaService"], [])]), "lambda.us-east-1.amazonaws.com")])
    error_message = "No key statement is for Lambda: the function's environment does not use the platform key."
  }

  assert {
    condition     = !strcontains(aws_iam_role_policy.this[0].policy, "lambda.us-east-1.amazonaws.com")
    error_message = "The role decrypts only through SSM."
  }
}

run "key_administrators_cannot_use_or_grant_the_key" {
  command = plan

  variables {
    key_administrator_arns = ["arn:aws:iam::999999999999:role/key-admins"]
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_kms_key.this[0].policy).Statement :
      length(setintersection(toset(flatten([s.Action])), toset(["kms:CreateGrant", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKey*", "kms:ReEncrypt*"]))) == 0
      if contains(flatten([try(s.Principal.AWS, [])]), "arn:aws:iam::999999999999:role/key-admins")
    ])
    error_message = "Key administrators may neither use the key nor create grants for it."
  }

  assert {
    condition     = contains(jsondecode(aws_kms_key.this[0].policy).Statement[0].Action, "kms:PutKeyPolicy")
    error_message = "KMS requires someone to hold PutKeyPolicy: the administrators (docs/security.md names them)."
  }
}

run "alarms_reach_a_topic" {
  command = plan

  variables {
    alarm_topic = { subscriptions = [{ protocol = "email", endpoint = "oncall@example.com" }] }
  }

  assert {
    condition     = aws_sns_topic.alarms[0].name == "tenant-authorizer-alarms" && aws_sns_topic.alarms[0].kms_master_key_id == "arn:aws:kms:us-east-1:999999999999:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    error_message = "The alarm topic is encrypted with the platform key."
  }

  assert {
    condition     = length(aws_sns_topic_subscription.alarms) == 1 && contains([for s in jsondecode(aws_kms_key.this[0].policy).Statement : s.Sid], "CloudWatchAlarmsPublishToTheAlarmTopic")
    error_message = "The subscription exists and CloudWatch may encrypt for the topic."
  }

  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.simple : length(a.alarm_actions) == 1]) && length(aws_cloudwatch_metric_alarm.duration_p99.alarm_actions) == 1 && length(aws_cloudwatch_metric_alarm.concurrency[0].ok_actions) == 1
    error_message = "Every alarm notifies the topic, when it fires and when it recovers."
  }
}

run "no_topic_by_default" {
  command = plan

  assert {
    condition     = length(aws_sns_topic.alarms) == 0 && !contains([for s in jsondecode(aws_kms_key.this[0].policy).Statement : s.Sid], "CloudWatchAlarmsPublishToTheAlarmTopic")
    error_message = "No topic, and no key statement for one, unless alarm_topic is set."
  }
}

run "concurrency_and_duration_alarms" {
  command = plan

  variables {
    reserved_concurrency = 200
    alarm_thresholds     = { concurrency_percent = 75, duration_p99_ms = 2500 }
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.concurrency[0].threshold == 150 && aws_cloudwatch_metric_alarm.concurrency[0].metric_name == "ConcurrentExecutions" && aws_cloudwatch_metric_alarm.concurrency[0].statistic == "Maximum"
    error_message = "The concurrency alarm fires above the percentage of the reservation."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.duration_p99.threshold == 2500 && aws_cloudwatch_metric_alarm.duration_p99.extended_statistic == "p99"
    error_message = "The duration alarm watches p99."
  }
}

run "no_concurrency_alarm_without_a_reservation" {
  command = plan

  variables {
    reserved_concurrency = -1
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.concurrency) == 0
    error_message = "Without a reservation there is nothing to compare against."
  }
}

run "bring_your_own_role_key_and_log_group" {
  command = plan

  variables {
    existing_role_arn       = "arn:aws:iam::999999999999:role/platform-authorizer"
    existing_kms_key_arn    = "arn:aws:kms:us-east-1:999999999999:key/11111111-2222-3333-4444-555555555555"
    existing_log_group_name = "/platform/authorizer"
  }

  assert {
    condition     = length(aws_iam_role.this) == 0 && length(aws_iam_role_policy.this) == 0 && aws_lambda_function.this.role == "arn:aws:iam::999999999999:role/platform-authorizer"
    error_message = "A brought role is used as is."
  }

  assert {
    condition     = length(aws_kms_key.this) == 0 && length(aws_kms_alias.this) == 0 && output.kms_key_arn == "arn:aws:kms:us-east-1:999999999999:key/11111111-2222-3333-4444-555555555555"
    error_message = "A brought key is used as is."
  }

  assert {
    condition     = length(aws_cloudwatch_log_group.this) == 0 && aws_lambda_function.this.logging_config[0].log_group == "/platform/authorizer"
    error_message = "A brought log group receives the function's logs."
  }
}

run "permissions_boundary" {
  command = plan

  variables {
    permissions_boundary_arn = "arn:aws:iam::999999999999:policy/platform-boundary"
  }

  assert {
    condition     = aws_iam_role.this[0].permissions_boundary == "arn:aws:iam::999999999999:policy/platform-boundary"
    error_message = "The created role carries the boundary."
  }
}

run "code_signing_is_an_option" {
  command = plan

  variables {
    code_signing = { signing_profile_version_arns = ["arn:aws:signer:us-east-1:999999999999:/signing-profiles/authorizer/abcdef1234"] }
  }

  assert {
    condition     = aws_lambda_code_signing_config.this[0].policies[0].untrusted_artifact_on_deployment == "Enforce"
    error_message = "Signed zips only, enforced, when code_signing is set."
  }
}

run "code_signing_off_by_default" {
  command = plan

  assert {
    condition     = length(aws_lambda_code_signing_config.this) == 0 && aws_lambda_function.this.code_signing_config_arn == null
    error_message = "No code signing unless asked."
  }
}

run "code_signing_needs_a_profile" {
  command = plan
  variables {
    code_signing = { signing_profile_version_arns = [] }
  }
  expect_failures = [var.code_signing]
}
