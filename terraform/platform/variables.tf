variable "aws_region" {
  description = "Region of the platform; null takes it from the environment (AWS_REGION)."
  type        = string
  default     = null
}

variable "function_name" {
  description = "Name of the shared authorizer function (and prefix of its role, key alias and alarms)."
  type        = string
  default     = "tenant-authorizer"
}

variable "architecture" {
  description = "Instruction set of the function: arm64 (default) or x86_64. The zip must be built for it."
  type        = string
  default     = "arm64"
}

variable "python_version" {
  description = "Python runtime of the function: 3.12 or 3.13. The zip must be built for it."
  type        = string
  default     = "3.12"
}

variable "lambda_package_path" {
  description = "Zip to deploy; null means build/lambda-<architecture>-py<python_version>.zip of the repository, as `make package` writes it."
  type        = string
  default     = null
}

variable "lambda_package_base64sha256" {
  description = "Base64 SHA-256 of the zip; null computes it from the file (set it only where the file is not at hand, e.g. plans in tests)."
  type        = string
  default     = null
}

variable "ssm_prefix" {
  description = "SSM path prefix of the platform: {prefix}/accounts/* (written here) and {prefix}/secrets/* (written by operators)."
  type        = string
  default     = "/tenant-authorizer"
}

variable "runtime_settings" {
  description = "Cache and telemetry settings of the function (TENANT_AUTHZ_* environment variables)."
  type = object({
    config_ttl_seconds   = optional(number, 60)
    config_stale_seconds = optional(number, 900)
    # How long a cold SSM read may retry throttling (jittered backoff); warm reads never wait.
    config_budget_seconds = optional(number, 2)
    jwks_max_age_seconds  = optional(number, 600)
    jwks_stale_seconds    = optional(number, 3600)
    kid_cooldown_seconds  = optional(number, 30)
    # All network time of one decision (discovery + keys), and any one fetch within it.
    network_budget_seconds = optional(number, 3)
    fetch_timeout_seconds  = optional(number, 1.5)
    metrics_namespace      = optional(string, "TenantAuthorizer")
    log_level              = optional(string, "INFO")
  })
  default = {}
}

variable "memory_size" {
  description = "Memory of the function in MB."
  type        = number
  default     = 512
}

variable "timeout_seconds" {
  description = "Timeout of the function in seconds."
  type        = number
  default     = 10
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions of the function; -1 leaves it unreserved."
  type        = number
  default     = 100
}

variable "log_retention_days" {
  description = "Retention of the function's logs in days."
  type        = number
  default     = 365
}

variable "tracing_mode" {
  description = "X-Ray tracing mode of the function: PassThrough or Active."
  type        = string
  default     = "PassThrough"
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires or recovers (e.g. an SNS topic of the on-call)."
  type        = list(string)
  default     = []
}

variable "alarm_thresholds" {
  description = "Alarm thresholds (counts per period) of fault decisions, unexpected errors, throttles, stale key and stale config serves, SSM throttles."
  type = object({
    fault_decisions     = optional(number, 0)
    unexpected_errors   = optional(number, 0)
    throttles           = optional(number, 0)
    stale_key_serves    = optional(number, 0)
    stale_config_serves = optional(number, 0)
    ssm_throttles       = optional(number, 0)
    concurrency_percent = optional(number, 80)
    duration_p99_ms     = optional(number, 3000)
  })
  default = {}
}

variable "alarm_topic" {
  description = "Create an SNS topic (encrypted with the platform key) that every alarm notifies, e.g. { subscriptions = [{ protocol = \"email\", endpoint = \"oncall@example.com\" }] }. null: only alarm_actions are notified."
  type = object({
    name = optional(string)
    subscriptions = optional(list(object({
      protocol = string
      endpoint = string
    })), [])
  })
  default = null
}

variable "existing_role_arn" {
  description = "Bring your own execution role (modules/authorizer-function/README.md lists what it needs); null creates one."
  type        = string
  default     = null
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary for the execution role this root creates."
  type        = string
  default     = null
}

variable "existing_kms_key_arn" {
  description = "Bring your own KMS key (HS* secrets, logs, alarm topic); null creates one."
  type        = string
  default     = null
}

variable "existing_log_group_name" {
  description = "Bring your own log group for the function; null creates /aws/lambda/<function_name>."
  type        = string
  default     = null
}

variable "code_signing" {
  description = "Require zips signed by these AWS Signer profile versions; null (default) deploys unsigned zips."
  type = object({
    signing_profile_version_arns     = list(string)
    untrusted_artifact_on_deployment = optional(string, "Enforce")
  })
  default = null
}

variable "key_administrator_arns" {
  description = "Administrators (not users) of the platform KMS key; empty means the account root (IAM decides)."
  type        = list(string)
  default     = []
}

variable "secret_writer_arns" {
  description = "Principals that may write HS* secrets encrypted with the platform key; empty means the account root (IAM decides)."
  type        = list(string)
  default     = []
}

variable "index_shard_count" {
  description = "Shards of the SSM change index (docs/decisions/0019): 128 holds about 25,000 tenant accounts. Choose it once: after a change, every group's root is of the old layout and covers nothing (accounts are read by TTL, never unbound) until that group is applied again."
  type        = number
  default     = 128

  validation {
    condition     = var.index_shard_count >= var.tenant_groups && var.index_shard_count <= 256 && floor(var.index_shard_count) == var.index_shard_count
    error_message = "index_shard_count must be a whole number from tenant_groups to 256."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "alias_count" {
  description = "Aliases of the function (shard-000 ...), each holding the invoke permissions of up to about 45 tenant accounts (decision 0020). Only ever raise it, and only while every alias serves the released version: new aliases start on the newest published version."
  type        = number
  default     = 256
}

variable "tenant_groups" {
  description = "Tenant groups: terraform/tenants workspaces group-00 ... each owning the accounts of shards n % tenant_groups (decision 0020). At most 9. Choose it once: changing it moves accounts between workspaces, a state migration (docs/decisions/0020)."
  type        = number
  default     = 8

  validation {
    condition     = var.tenant_groups >= 1 && var.tenant_groups <= 9 && floor(var.tenant_groups) == var.tenant_groups
    error_message = "tenant_groups must be a whole number from 1 to 9 (the runtime reads the layout and every group root in one call)."
  }
}

variable "observability" {
  description = "What on-call sees beyond the alarms: Contributor Insights rules (billed per matched log event) and the runbooks' saved Logs Insights queries. The dashboard is always created."
  type = object({
    insight_rules = optional(bool, true)
    saved_queries = optional(bool, true)
  })
  default = {}
}
