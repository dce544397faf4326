variable "function_name" {
  description = "Name of the shared authorizer function; also names its role, key alias, log group and alarms."
  type        = string
  default     = "tenant-authorizer"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,52}$", var.function_name))
    error_message = "function_name must be 1-52 characters of letters, digits, '-' or '_' (52 leaves room for the role and alarm suffixes)."
  }
}

variable "package_path" {
  description = "Path of the Lambda zip built by `make package` (build/lambda-<arch>-py<version>.zip)."
  type        = string

  validation {
    condition     = endswith(var.package_path, ".zip")
    error_message = "package_path must name a .zip file built by `make package`."
  }
}

variable "package_base64sha256" {
  description = "Base64-encoded SHA-256 of the zip (filebase64sha256(package_path)); a change redeploys the code."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.package_base64sha256))
    error_message = "package_base64sha256 must be a base64-encoded SHA-256 (44 characters ending in '='), as filebase64sha256() returns; the platform root passes \"missing\" when the zip does not exist: run `make package`."
  }
}

variable "architecture" {
  description = "Instruction set of the function; must match the zip (`make package ARCH=...`)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "python_version" {
  description = "Python runtime version; must match the zip (`make package PYTHON_VERSION=...`)."
  type        = string
  default     = "3.12"

  validation {
    condition     = contains(["3.12", "3.13"], var.python_version)
    error_message = "python_version must be 3.12 or 3.13."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB; CPU (signature verification) scales with it."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout_seconds" {
  description = "Function timeout; API Gateway waits at most this long for a decision."
  type        = number
  default     = 10

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 29 && floor(var.timeout_seconds) == var.timeout_seconds
    error_message = "timeout_seconds must be a whole number between 1 and 29 (API Gateway's integration limit)."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions: a floor for the authorizer and a ceiling on its cost. -1 leaves it unreserved."
  type        = number
  default     = 100

  validation {
    condition     = var.reserved_concurrency == -1 || (var.reserved_concurrency >= 1 && floor(var.reserved_concurrency) == var.reserved_concurrency)
    error_message = "reserved_concurrency must be -1 (unreserved) or a whole number of at least 1."
  }
}

variable "ssm_prefix" {
  description = "SSM path prefix the function reads (TENANT_AUTHZ_SSM_PREFIX): accounts under {prefix}/accounts/, HS* secrets under {prefix}/secrets/."
  type        = string
  default     = "/tenant-authorizer"

  validation {
    condition     = can(regex("^(/[A-Za-z0-9_.-]+)+$", var.ssm_prefix))
    error_message = "ssm_prefix must start with '/', have no trailing '/', and use only letters, digits, '_', '.', '-' in each segment."
  }
}

variable "runtime_settings" {
  description = "Cache and telemetry settings passed to the function as TENANT_AUTHZ_* environment variables."
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

  validation {
    condition = alltrue([
      for v in [
        var.runtime_settings.config_ttl_seconds,
        var.runtime_settings.config_stale_seconds,
        var.runtime_settings.jwks_max_age_seconds,
        var.runtime_settings.jwks_stale_seconds,
        var.runtime_settings.kid_cooldown_seconds,
      ] : v >= 0 && floor(v) == v
    ])
    error_message = "runtime_settings: config_ttl_seconds, config_stale_seconds, jwks_max_age_seconds, jwks_stale_seconds and kid_cooldown_seconds must be whole numbers of seconds, 0 or more."
  }

  validation {
    condition     = var.runtime_settings.config_stale_seconds >= var.runtime_settings.config_ttl_seconds && var.runtime_settings.jwks_stale_seconds >= var.runtime_settings.jwks_max_age_seconds
    error_message = "runtime_settings: config_stale_seconds must be >= config_ttl_seconds and jwks_stale_seconds must be >= jwks_max_age_seconds (stale serving extends a TTL, it cannot shorten it)."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9_./#:-]{1,255}$", var.runtime_settings.metrics_namespace)) && !startswith(var.runtime_settings.metrics_namespace, "AWS/")
    error_message = "runtime_settings.metrics_namespace must be 1-255 characters of letters, digits or _./#:- and must not start with 'AWS/'."
  }

  validation {
    condition = (
      var.runtime_settings.fetch_timeout_seconds >= 0.1
      && var.runtime_settings.fetch_timeout_seconds <= var.runtime_settings.network_budget_seconds
      && var.runtime_settings.config_budget_seconds >= 0
      && var.runtime_settings.config_budget_seconds + 2 + max(var.runtime_settings.config_budget_seconds + 2, var.runtime_settings.network_budget_seconds) + 1 <= var.timeout_seconds
    )
    error_message = "runtime_settings: fetch_timeout_seconds must be at least 0.1 and at most network_budget_seconds, and a decision's worst case must fit timeout_seconds with 1 s to spare: the config read (config_budget_seconds + 2 s, its last attempt being 1 s connect + 1 s read), then either the HS* secret read (the same again) or the key fetches (network_budget_seconds)."
  }

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.runtime_settings.log_level)
    error_message = "runtime_settings.log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: PassThrough (trace only when API Gateway samples) or Active."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

variable "key_administrator_arns" {
  description = "IAM principals that administer (not use) the platform KMS key. Empty means the account root, i.e. IAM policies decide."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.key_administrator_arns : can(regex("^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(root|role/.+|user/.+)$", arn))])
    error_message = "key_administrator_arns must hold IAM role, user or account-root ARNs."
  }
}

variable "secret_writer_arns" {
  description = "IAM principals allowed to encrypt HS* secrets into {prefix}/secrets/ with the platform key (through SSM only). Empty means the account root, i.e. IAM policies decide."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.secret_writer_arns : can(regex("^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(root|role/.+|user/.+)$", arn))])
    error_message = "secret_writer_arns must hold IAM role, user or account-root ARNs."
  }
}

variable "alarm_actions" {
  description = "ARNs (SNS topics, ...) notified when an alarm fires and when it recovers."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.alarm_actions : startswith(arn, "arn:")])
    error_message = "alarm_actions must hold ARNs."
  }
}

variable "alarm_thresholds" {
  description = "Alarm thresholds per evaluation period (counts): fault decisions, unexpected errors, throttles, stale key and stale config serves, SSM throttles."
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

  validation {
    condition     = var.alarm_thresholds.concurrency_percent >= 1 && var.alarm_thresholds.concurrency_percent <= 100
    error_message = "alarm_thresholds.concurrency_percent must be 1 to 100 (percent of reserved_concurrency)."
  }

  validation {
    condition = alltrue([
      for v in values(var.alarm_thresholds) : v >= 0 && floor(v) == v
    ])
    error_message = "alarm_thresholds: every threshold must be a whole number, 0 or more (the alarm fires above it)."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}

variable "alarm_topic" {
  description = "Create an SNS topic (encrypted with the platform key) that every alarm notifies, with these subscriptions. null creates none: then alarm_actions must name where alarms go."
  type = object({
    name = optional(string)
    subscriptions = optional(list(object({
      protocol = string
      endpoint = string
    })), [])
  })
  default = null

  validation {
    condition     = var.alarm_topic == null || try(alltrue([for s in var.alarm_topic.subscriptions : contains(["email", "email-json", "https", "sqs", "lambda", "sms", "firehose"], s.protocol)]), false)
    error_message = "alarm_topic.subscriptions: protocol must be email, email-json, https, sqs, lambda, sms or firehose."
  }
}

variable "existing_role_arn" {
  description = "Bring your own execution role (it needs the statements of this module's aws_iam_role_policy.this, in main.tf: its own log group, its SSM prefix, kms:Decrypt through SSM, X-Ray). null creates one."
  type        = string
  default     = null

  validation {
    condition     = var.existing_role_arn == null || can(regex("^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/.+$", var.existing_role_arn))
    error_message = "existing_role_arn must be an IAM role ARN."
  }
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary of the role this module creates (ignored with existing_role_arn)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws(-cn|-us-gov)?:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN."
  }
}

variable "existing_kms_key_arn" {
  description = "Bring your own KMS key for HS* secrets, logs and the alarm topic (its policy must allow what aws_kms_key.this allows). null creates one."
  type        = string
  default     = null

  validation {
    condition     = var.existing_kms_key_arn == null || can(regex("^arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.existing_kms_key_arn))
    error_message = "existing_kms_key_arn must be a KMS key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "existing_log_group_name" {
  description = "Bring your own log group (the function logs there through logging_config; its retention and key are yours). null creates /aws/lambda/<function_name>."
  type        = string
  default     = null

  validation {
    condition     = var.existing_log_group_name == null || can(regex("^[A-Za-z0-9_./#-]{1,512}$", var.existing_log_group_name))
    error_message = "existing_log_group_name must be a CloudWatch Logs group name."
  }
}

variable "code_signing" {
  description = "Require zips signed by these AWS Signer profile versions (a code signing config). null (the default) deploys unsigned zips."
  type = object({
    signing_profile_version_arns     = list(string)
    untrusted_artifact_on_deployment = optional(string, "Enforce")
  })
  default = null

  validation {
    condition     = var.code_signing == null || try(length(var.code_signing.signing_profile_version_arns) > 0 && contains(["Enforce", "Warn"], var.code_signing.untrusted_artifact_on_deployment), false)
    error_message = "code_signing needs at least one signing profile version ARN; untrusted_artifact_on_deployment is Enforce or Warn."
  }
}
