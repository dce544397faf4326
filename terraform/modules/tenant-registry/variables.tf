variable "ssm_prefix" {
  description = "SSM path prefix the function reads (its TENANT_AUTHZ_SSM_PREFIX); documents go to {prefix}/accounts/{account_id}."
  type        = string
  default     = "/tenant-authorizer"

  validation {
    condition     = can(regex("^(/[A-Za-z0-9_.-]+)+$", var.ssm_prefix))
    error_message = "ssm_prefix must start with '/', have no trailing '/', and use only letters, digits, '_', '.', '-' in each segment."
  }
}

variable "tenants" {
  description = <<-EOT
    Tenants by tenant id. `document` is the tenant's JSON document as the runtime parses it
    (the tenant file without `bindings` and `description`, rendered by jsonencode);
    `bindings` are the APIs of tenant accounts that belong to the tenant.
  EOT
  type = map(object({
    document = string
    bindings = list(object({
      account_id = string
      api_ids    = optional(list(string))
      stages     = optional(list(string))
      response   = optional(string, "iam")
      region     = optional(string)
    }))
  }))

  validation {
    condition     = alltrue([for id in keys(var.tenants) : can(regex("^[a-z0-9][a-z0-9-]{1,62}$", id))])
    error_message = "tenants: every tenant id (map key) must match ^[a-z0-9][a-z0-9-]{1,62}$."
  }

  validation {
    condition = alltrue([
      for id, t in var.tenants : can(jsondecode(t.document).tenant_id) && try(jsondecode(t.document).tenant_id == id, false)
    ])
    error_message = "tenants[*].document must be a JSON object whose tenant_id equals its map key."
  }

  validation {
    condition = alltrue([
      for t in var.tenants : !can(jsondecode(t.document).bindings) && !can(jsondecode(t.document).description)
    ])
    error_message = "tenants[*].document must not contain bindings or description (bindings go in tenants[*].bindings)."
  }

  validation {
    condition     = alltrue([for t in var.tenants : length(t.bindings) > 0])
    error_message = "tenants[*].bindings must list at least one account: a tenant without bindings can never be selected."
  }

  validation {
    condition = alltrue(flatten([
      for t in var.tenants : [for b in t.bindings : can(regex("^[0-9]{12}$", b.account_id))]
    ]))
    error_message = "tenants[*].bindings[*].account_id must be a 12-digit AWS account id, as a string."
  }

  validation {
    condition = alltrue(flatten([
      for t in var.tenants : [
        for b in t.bindings : b.api_ids == null ? true : length(b.api_ids) > 0 && alltrue([for a in b.api_ids : can(regex("^[a-z0-9]{10}$", a))])
      ]
    ]))
    error_message = "tenants[*].bindings[*].api_ids must be omitted (every API of the account) or a non-empty list of 10-character API Gateway ids."
  }

  validation {
    condition = alltrue(flatten([
      for t in var.tenants : [
        for b in t.bindings : b.stages == null ? true : length(b.stages) > 0 && alltrue([for s in b.stages : can(regex("^(\\$default|[A-Za-z0-9_-]{1,128})$", s))])
      ]
    ]))
    error_message = "tenants[*].bindings[*].stages must be omitted (every stage) or a non-empty list of stage names ($default or [A-Za-z0-9_-]{1,128})."
  }

  validation {
    condition     = alltrue(flatten([for t in var.tenants : [for b in t.bindings : contains(["iam", "simple"], b.response)]]))
    error_message = "tenants[*].bindings[*].response must be iam or simple."
  }

  # One API belongs to one tenant: otherwise the first binding would silently win.
  validation {
    condition = alltrue([
      for key, owners in {
        for pair in flatten([
          for id, t in var.tenants : [
            for b in t.bindings : [for a in coalesce(b.api_ids, []) : { key = "${b.account_id}/${a}", tenant = id }]
          ]
        ]) : pair.key => pair.tenant...
      } : length(distinct(owners)) == 1
    ])
    error_message = "tenants[*].bindings: an account's API id is bound by two tenants; one API belongs to one tenant (run `tenant-authz validate` for the file names)."
  }

  # Two account-wide bindings of one account from different tenants cannot both hold.
  validation {
    condition = alltrue([
      for account, owners in {
        for pair in flatten([
          for id, t in var.tenants : [for b in t.bindings : { account = b.account_id, tenant = id } if b.api_ids == null]
        ]) : pair.account => pair.tenant...
      } : length(distinct(owners)) == 1
    ])
    error_message = "tenants[*].bindings: two tenants bind every API of the same account (api_ids omitted); give at least one of them api_ids."
  }
}

variable "account_aliases" {
  description = "The function alias that serves each tenant account, by account id (tenant-invoke-access's account_aliases). Written into the account's document: the runtime decides for an account only when it is invoked through that alias."
  type        = map(string)

  validation {
    condition     = alltrue([for alias in values(var.account_aliases) : can(regex("^[A-Za-z0-9_-]{1,128}$", alias)) && !can(regex("^[0-9]+$", alias))])
    error_message = "account_aliases: every value must be a Lambda alias name (letters, digits, '-' or '_', not only digits)."
  }
}

variable "index_shard_count" {
  description = "Shards of the change index (docs/decisions/0019; the platform's {prefix}/index/layout): each shard marker lists the content hashes of the accounts that hash to it, about 30 bytes an account within 8,192 bytes."
  type        = number
  default     = 128

  validation {
    condition     = var.index_shard_count >= 1 && var.index_shard_count <= 256 && floor(var.index_shard_count) == var.index_shard_count
    error_message = "index_shard_count must be a whole number from 1 to 256."
  }
}

variable "index_groups" {
  description = "Tenant groups of the platform (its {prefix}/index/layout): shard n belongs to group n % index_groups."
  type        = number
  default     = 1

  validation {
    condition     = var.index_groups >= 1 && var.index_groups <= 9 && floor(var.index_groups) == var.index_groups
    error_message = "index_groups must be a whole number from 1 to 9."
  }
}

variable "index_group" {
  description = "The tenant group these tenants are (0 to index_groups - 1): its root is {prefix}/index/root-GG, and every account passed must belong to it."
  type        = number
  default     = 0

  validation {
    condition     = var.index_group >= 0 && var.index_group < var.index_groups && floor(var.index_group) == var.index_group
    error_message = "index_group must be a whole number from 0 to index_groups - 1."
  }
}

variable "tags" {
  description = "Tags for every parameter."
  type        = map(string)
  default     = {}
}
