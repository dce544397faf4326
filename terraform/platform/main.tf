# The platform root: the shared authorizer function, its key, logs and alarms, its
# aliases, and the change-index layout (decision 0020). It reads no tenant file: a
# release, a setting (runtime_settings) or a new alias is this
# apply alone, whatever state the tenant files are in. Tenants are onboarded by
# terraform/tenants, one workspace per tenant group.

locals {
  package_path = coalesce(var.lambda_package_path, "${path.root}/../../build/lambda-${var.architecture}-py${var.python_version}.zip")
  package_hash = coalesce(var.lambda_package_base64sha256, try(filebase64sha256(local.package_path), "missing"))
}

module "function" {
  source = "../modules/authorizer-function"

  function_name            = var.function_name
  package_path             = local.package_path
  package_base64sha256     = local.package_hash
  architecture             = var.architecture
  python_version           = var.python_version
  memory_size              = var.memory_size
  timeout_seconds          = var.timeout_seconds
  reserved_concurrency     = var.reserved_concurrency
  ssm_prefix               = var.ssm_prefix
  runtime_settings         = var.runtime_settings
  log_retention_days       = var.log_retention_days
  tracing_mode             = var.tracing_mode
  key_administrator_arns   = var.key_administrator_arns
  secret_writer_arns       = var.secret_writer_arns
  alarm_actions            = var.alarm_actions
  alarm_thresholds         = var.alarm_thresholds
  alarm_topic              = var.alarm_topic
  existing_role_arn        = var.existing_role_arn
  permissions_boundary_arn = var.permissions_boundary_arn
  existing_kms_key_arn     = var.existing_kms_key_arn
  existing_log_group_name  = var.existing_log_group_name
  code_signing             = var.code_signing
  tags                     = var.tags
}

# An alarm that notifies no one is silence: plan and apply warn until it reaches someone.
check "alarms_reach_someone" {
  assert {
    condition     = length(var.alarm_actions) > 0 || try(length(var.alarm_topic.subscriptions) > 0, false)
    error_message = "No alarm notifies anyone: set alarm_topic with at least one subscription (an encrypted SNS topic), or alarm_actions."
  }
}

module "aliases" {
  source = "../modules/function-aliases"

  function_name   = module.function.function_name
  initial_version = module.function.function_version
  alias_count     = var.alias_count
}

# How accounts are sharded and grouped (decisions 0019, 0020): the runtime reads it with
# every root check, terraform/tenants reads it to know its group's accounts and shards.
resource "aws_ssm_parameter" "layout" {
  #checkov:skip=CKV2_AWS_34:Two numbers, no secret.
  name           = "${var.ssm_prefix}/index/layout"
  description    = "Tenant authorizer change-index layout. Managed by terraform/platform; do not edit."
  type           = "String"
  data_type      = "text"
  tier           = "Intelligent-Tiering"
  insecure_value = jsonencode({ groups = var.tenant_groups, shard_count = var.index_shard_count, version = 1 })
  tags           = var.tags
}

# What terraform/tenants needs of the platform, so that the two roots share no variable
# that could disagree: the function, its alias count.
resource "aws_ssm_parameter" "platform" {
  #checkov:skip=CKV2_AWS_34:Names and counts, no secret.
  name        = "${var.ssm_prefix}/platform"
  description = "Tenant authorizer platform facts for terraform/tenants. Managed by terraform/platform; do not edit."
  type        = "String"
  data_type   = "text"
  tier        = "Intelligent-Tiering"
  insecure_value = jsonencode({
    alias_count   = var.alias_count
    function_arn  = module.function.function_arn
    function_name = module.function.function_name
    version       = 1
  })
  tags = var.tags
}

data "aws_region" "current" {}

# What on-call looks at: a dashboard, Contributor Insights rules per tenant, the runbooks'
# saved queries (issue 14).
module "observability" {
  source = "../modules/observability"

  function_name     = module.function.function_name
  log_group_name    = module.function.log_group_name
  metrics_namespace = var.runtime_settings.metrics_namespace
  region            = data.aws_region.current.id
  saved_queries     = var.observability.saved_queries
  insight_rules     = var.observability.insight_rules
  tags              = var.tags
}
