variable "function_name" {
  description = "Name of the shared authorizer function whose aliases (terraform/platform) carry the invoke permissions."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be a Lambda function name (1-64 letters, digits, '-' or '_'), not an ARN."
  }
}

variable "accounts" {
  description = "Tenant accounts to grant, by account id. api_ids: the API ids the permission is pinned to; null (omitted) grants every API of the account."
  type = map(object({
    api_ids = optional(list(string))
    # The APIs' region by API id ("*" for every API), where a binding names one.
    regions = optional(map(string), {})
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

variable "account_aliases" {
  description = "The alias (shard-NNN) each account's permission is on, by account id: tenant_configs/aliases.json, kept by tenant-authz aliases."
  type        = map(string)

  validation {
    condition     = alltrue([for alias in values(var.account_aliases) : alias == "" || can(regex("^shard-[0-9]{3}$", alias))])
    error_message = "account_aliases: every value must be an alias shard-NNN."
  }
}

variable "source_region" {
  description = "Region of the tenant APIs in the permissions' source ARNs, unless a binding names its own (regions); null means the platform's own region. The provider rejects wildcards here: a binding names one region."
  type        = string
  default     = null

  validation {
    condition     = var.source_region == null || can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.source_region))
    error_message = "source_region must be null (the platform's region) or a region name such as us-east-1."
  }
}

variable "account_parameters" {
  description = "SSM parameter name of each account's document, by account id: a permission is granted only to an account whose document is written (and after it is written)."
  type        = map(string)
}
