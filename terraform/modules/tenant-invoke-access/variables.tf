variable "function_name" {
  description = "Name of the shared authorizer function whose aliases carry the invoke permissions."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be a Lambda function name (1-64 letters, digits, '-' or '_'), not an ARN."
  }
}

variable "function_version" {
  description = "Published function version every alias points at."
  type        = string

  validation {
    condition     = can(regex("^([0-9]+|\\$LATEST)$", var.function_version))
    error_message = "function_version must be a published version number (or $LATEST)."
  }
}

variable "accounts" {
  description = "Tenant accounts to grant, by account id. api_ids: the API ids the permission is pinned to; null (omitted) grants every API of the account."
  type = map(object({
    api_ids = optional(list(string))
  }))

  validation {
    condition     = alltrue([for account in keys(var.accounts) : can(regex("^[0-9]{12}$", account))])
    error_message = "accounts: every key must be a 12-digit AWS account id."
  }

  validation {
    condition = alltrue([
      for a in values(var.accounts) : a.api_ids == null ? true : length(a.api_ids) > 0 && alltrue([for id in a.api_ids : can(regex("^[a-z0-9]{10}$", id))])
    ])
    error_message = "accounts[*].api_ids must be null (every API of the account) or a non-empty list of 10-character API Gateway ids."
  }
}

variable "alias_shard_count" {
  description = <<-EOT
    Number of aliases the accounts are hashed over (each alias has its own 20 KB resource policy).
    An account's alias is sha256(account_id) mod this count, so adding an account never moves
    another. Changing the count moves most accounts: choose it once.
  EOT
  type        = number
  default     = 64

  validation {
    condition     = var.alias_shard_count >= 1 && var.alias_shard_count <= 1000 && floor(var.alias_shard_count) == var.alias_shard_count
    error_message = "alias_shard_count must be a whole number between 1 and 1000."
  }
}

variable "account_alias_overrides" {
  description = "Explicit alias shard (0 .. alias_shard_count-1) for accounts whose hashed shard is full, by account id."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for account in keys(var.account_alias_overrides) : can(regex("^[0-9]{12}$", account))])
    error_message = "account_alias_overrides: every key must be a 12-digit AWS account id."
  }

  validation {
    condition = alltrue([
      for shard in values(var.account_alias_overrides) : shard >= 0 && shard < var.alias_shard_count && floor(shard) == shard
    ])
    error_message = "account_alias_overrides: every shard must be a whole number from 0 to alias_shard_count - 1."
  }
}

variable "source_region" {
  description = "Region of the tenant APIs in the permissions' source ARNs; null means the platform's own region. The provider rejects wildcards here, so a platform serves the APIs of one region (deploy one platform per region)."
  type        = string
  default     = null

  validation {
    condition     = var.source_region == null || can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.source_region))
    error_message = "source_region must be null (the platform's region) or a region name such as us-east-1."
  }
}

variable "policy_size_limit_bytes" {
  description = "Largest resource policy an alias may reach; Lambda's limit is 20 KB per function or alias."
  type        = number
  default     = 20480

  validation {
    condition     = var.policy_size_limit_bytes >= 1024 && var.policy_size_limit_bytes <= 20480
    error_message = "policy_size_limit_bytes must be between 1024 and 20480 (Lambda's limit)."
  }
}

variable "account_parameters" {
  description = "SSM parameter name of each account's document, by account id: a permission is granted only to an account whose document is written (and after it is written)."
  type        = map(string)
}
