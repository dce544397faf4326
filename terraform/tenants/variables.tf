variable "tenant_configs_dir" {
  description = <<-EOT
    Directory of tenant files (`<tenant_id>.yaml`, one per tenant) this deployment onboards.
    No default on purpose: this repository's tenant_configs/ holds sample tenants with
    fictional accounts, which a real deployment must not grant (docs/decisions/0008).
  EOT
  type        = string

  # An existing tenant directory: tenant files, or at least aliases.json (what is left
  # when the last tenant is offboarded, so that its apply can remove it).
  validation {
    condition     = length(fileset(var.tenant_configs_dir, "*.yaml")) > 0 || fileexists("${var.tenant_configs_dir}/aliases.json")
    error_message = "tenant_configs_dir must be a tenant directory: <tenant_id>.yaml files and aliases.json (run tenant-authz aliases on it)."
  }
}

variable "allow_local_development_issuers" {
  description = "Accept issuers with `local_development: true` (http:// issuers on 127.0.0.1). Only for local and test stacks."
  type        = bool
  default     = false
}

variable "aws_region" {
  description = "Region of the platform; null takes it from the environment (AWS_REGION)."
  type        = string
  default     = null
}

variable "ssm_prefix" {
  description = "SSM path prefix of the platform: {prefix}/accounts/* (written here) and {prefix}/secrets/* (written by operators)."
  type        = string
  default     = "/tenant-authorizer"
}

variable "source_region" {
  description = "Region of the tenant APIs in the invoke permissions and hand-offs, unless a binding names its own (bindings[].region); null means the platform's region."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "group" {
  description = "The tenant group to apply in the default workspace (tests; a platform with one group needs none). In a group-NN workspace leave it unset: the workspace names the group."
  type        = number
  default     = null
}

variable "max_removed_accounts" {
  description = "Refuse a plan that removes more than this many accounts the last apply of the group wrote (their documents and invoke permissions): a wrong tenant_configs_dir plans the removal of every tenant. Raise it for one plan to offboard more (-var max_removed_accounts=N)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_removed_accounts >= 0 && floor(var.max_removed_accounts) == var.max_removed_accounts
    error_message = "max_removed_accounts must be a whole number, 0 or more."
  }
}
