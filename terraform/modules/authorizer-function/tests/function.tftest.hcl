# The function, its role, key, log group and alarms; one run per validation block.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
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
    condition     = aws_kms_key.this.enable_key_rotation && aws_cloudwatch_log_group.this.retention_in_days == 365
    error_message = "The key rotates and the logs are kept a year by default."
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.this.policy).Statement[1].Resource == "arn:aws:ssm:us-east-1:999999999999:parameter/tenant-authorizer/*" && jsondecode(aws_iam_role_policy.this.policy).Statement[1].Action == ["ssm:GetParameter", "ssm:GetParameters"]
    error_message = "The role may only read its own SSM prefix."
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.this.policy).Statement[2].Resource == "arn:aws:kms:us-east-1:999999999999:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    error_message = "The role may only decrypt with its own key."
  }

  assert {
    condition     = toset(keys(output.alarm_names)) == toset(["fault-decisions", "throttles", "stale-key-serves", "stale-config-serves", "ssm-throttles", "unexpected-errors"])
    error_message = "Alarms: fault decisions, throttles, stale keys, stale configs and errors without a decision."
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
    values = { name = "cn-north-1" }
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.this.policy).Statement[1].Resource == "arn:aws-cn:ssm:cn-north-1:999999999999:parameter/tenant-authorizer/*"
    error_message = "SSM ARNs must use the aws-cn partition."
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.this.policy).Statement[2].Condition.StringEquals["kms:ViaService"] == ["ssm.cn-north-1.amazonaws.com.cn", "lambda.cn-north-1.amazonaws.com.cn"]
    error_message = "Service endpoints in China end in amazonaws.com.cn."
  }

  assert {
    condition     = jsondecode(aws_kms_key.this.policy).Statement[0].Principal.AWS == ["arn:aws-cn:iam::999999999999:root"]
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
    values = { name = "us-gov-west-1" }
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.this.policy).Statement[0].Resource == "arn:aws-us-gov:logs:us-gov-west-1:999999999999:log-group:/aws/lambda/tenant-authorizer:*"
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

