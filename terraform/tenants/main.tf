# The tenants root: reads every tenant file of var.tenant_configs_dir and, for the tenant
# group this workspace is (group-00, group-01, ...; decision 0020), writes the SSM document
# of each of the group's accounts, the group's part of the change index, and each
# account's invoke permission on the alias tenant_configs/aliases.json assigns it.
#
# Onboarding a tenant = adding <tenant_id>.yaml (and `tenant-authz aliases`), then an
# apply of the group(s) of its accounts (`tenant-authz groups` names them). Nothing here
# can change the function or an alias: they live in terraform/platform.

data "aws_ssm_parameter" "layout" {
  name = "${var.ssm_prefix}/index/layout"
}

data "aws_ssm_parameter" "platform" {
  name = "${var.ssm_prefix}/platform"
}

# What the last apply of any group wrote: the change index's shard markers list every
# account they cover. The mass-removal guard below compares this group's part of it with
# the plan (HCL cannot count a plan's destroys; this is the same set, read from SSM).
data "aws_ssm_parameters_by_path" "index" {
  path      = "${var.ssm_prefix}/index"
  recursive = false
}

locals {
  tenant_files = fileset(var.tenant_configs_dir, "*.yaml")
  tenant_docs = {
    for f in local.tenant_files : trimsuffix(f, ".yaml") => yamldecode(file("${var.tenant_configs_dir}/${f}"))
  }

  binding_fields = ["account_id", "api_ids", "stages", "response", "region"]

  # What Terraform itself can check before the typed module inputs (which silently drop
  # unknown attributes). `tenant-authz validate` checks everything else, with the same
  # `file: field: reason` format.
  tenant_problems = flatten([
    for stem, doc in local.tenant_docs : concat(
      can(keys(doc)) ? [] : ["${stem}.yaml: (document): must be a mapping"],
      try(doc.tenant_id == stem, false) ? [] : ["${stem}.yaml: tenant_id: must equal the file name (${stem})"],
      try(length(doc.bindings) > 0, false) ? [] : ["${stem}.yaml: bindings: is required: list the accounts whose APIs use this tenant"],
      try(flatten([
        for i, b in doc.bindings : [
          for k in try(keys(b), ["(binding)"]) : "${stem}.yaml: bindings[${i}].${k}: is not a known field" if !contains(local.binding_fields, k)
        ]
      ]), []),
      var.allow_local_development_issuers ? [] : try([
        for i, issuer in doc.issuers :
        "${stem}.yaml: issuers[${i}].local_development: not accepted by this deployment (allow_local_development_issuers = false)"
        if try(issuer.local_development == true, false)
      ], []),
    )
  ])

  tenants = {
    for stem, doc in local.tenant_docs : stem => {
      # The runtime parses this with parse_tenant(..., require_bindings=False).
      document = jsonencode({ for k, v in doc : k => v if !contains(["bindings", "description"], k) && v != null })
      bindings = try([
        for b in doc.bindings : {
          account_id = try(tostring(b.account_id), "")
          api_ids    = try(b.api_ids, null)
          stages     = try(b.stages, null)
          response   = try(b.response, "iam")
          region     = try(b.region, null)
        }
      ], [])
    }
  }

  layout   = jsondecode(nonsensitive(data.aws_ssm_parameter.layout.insecure_value))
  platform = jsondecode(nonsensitive(data.aws_ssm_parameter.platform.insecure_value))
  # The workspace names the group (group-NN). In the default workspace var.group says it
  # (a platform with one group needs none); any other workspace is refused.
  group = (
    can(regex("^group-[0-9]{2}$", terraform.workspace)) ? tonumber(substr(terraform.workspace, 6, 2)) :
    terraform.workspace == "default" ? coalesce(var.group, local.layout.groups == 1 ? 0 : -1) : -1
  )

  aliases_file = "${var.tenant_configs_dir}/aliases.json"
  aliases      = try(jsondecode(file(local.aliases_file)), null)

  # An account belongs to group (shard % groups), its shard sha256(account)[:8] % shard_count.
  # keys() of a grouping map, not distinct(): distinct is quadratic, and at 10,000
  # accounts it was most of a plan (benchmarks/terraform_scale.py).
  group_of = {
    for account in keys({ for a in flatten([for t in local.tenants : [for b in t.bindings : b.account_id]]) : a => a... }) :
    account => (parseint(substr(sha256(account), 0, 8), 16) % local.layout.shard_count) % local.layout.groups
  }
  group_tenants = {
    for id, t in local.tenants : id => {
      document = t.document
      bindings = [for b in t.bindings : b if try(local.group_of[b.account_id], -1) == local.group]
    } if anytrue([for b in t.bindings : try(local.group_of[b.account_id], -1) == local.group])
  }
  group_accounts = toset([for account, g in local.group_of : account if g == local.group])
  account_aliases = {
    for account in local.group_accounts : account => try(local.aliases[account], "")
  }

  # Accounts the last apply of this group wrote that this plan no longer has: every
  # account of the markers its root (index/root-GG) lists, whatever the layout is now
  # (a changed tenant_groups moves shards away from a group: that removal counts too).
  index_values = nonsensitive(data.aws_ssm_parameters_by_path.index.values)
  index_by_name = {
    for i, name in data.aws_ssm_parameters_by_path.index.names : reverse(split("/", name))[0] => local.index_values[i]
  }
  applied_shards = try(keys(jsondecode(local.index_by_name[format("root-%02d", local.group)]).shards), [])
  applied_accounts = toset(flatten([
    for shard in local.applied_shards : try(keys(jsondecode(local.index_by_name[shard]).accounts), [])
  ]))
  removed_accounts = sort(tolist(setsubtract(local.applied_accounts, local.group_accounts)))

  # An account bound account-wide gets one invoke statement for every API, in one region:
  # an API binding of the same account that names another region could never be called.
  account_wide_regions = {
    for b in flatten([for t in values(local.group_tenants) : t.bindings]) : b.account_id => b.region... if b.api_ids == null
  }
  region_conflicts = flatten([
    for id, t in local.group_tenants : [
      for b in t.bindings : "${id}.yaml: bindings (account ${b.account_id}, api_ids ${join(",", b.api_ids)}): region ${coalesce(b.region, "(the default)")} is not the region of the account's account-wide binding (${coalesce(local.account_wide_regions[b.account_id][0], "the default")}), whose one invoke statement admits every API of the account: name the same region, or bind those APIs by api_ids"
      if b.api_ids != null && contains(keys(local.account_wide_regions), b.account_id) && try(local.account_wide_regions[b.account_id][0] != b.region, false)
    ]
  ])
}

# Refuses, at plan time, to run in a workspace that is not a group, to run without a
# current alias assignment, or with an alias the platform does not have.
resource "terraform_data" "guard" {
  input = local.group

  lifecycle {
    precondition {
      condition     = local.group >= 0 && local.group < local.layout.groups
      error_message = "Workspace ${terraform.workspace} is not a tenant group of this platform: select one of group-00 to group-${format("%02d", local.layout.groups - 1)} (terraform workspace select -or-create group-00); tenant-authz groups names the groups of your tenants."
    }
    precondition {
      condition     = var.group == null || terraform.workspace == "default" || var.group == local.group
      error_message = "var.group (${coalesce(var.group, -1)}) is not this workspace's group (${terraform.workspace}): leave var.group unset in group-NN workspaces."
    }
    precondition {
      condition     = local.aliases != null
      error_message = "${local.aliases_file} is missing or not JSON: run .venv/bin/tenant-authz aliases ${var.tenant_configs_dir} and commit the file."
    }
    precondition {
      condition     = alltrue([for account, alias in local.account_aliases : alias != ""])
      error_message = "Accounts of this group have no alias in ${local.aliases_file}: ${join(", ", [for a, alias in local.account_aliases : a if alias == ""])}. Run .venv/bin/tenant-authz aliases ${var.tenant_configs_dir}."
    }
    precondition {
      condition     = length(local.region_conflicts) == 0
      error_message = join("\n", local.region_conflicts)
    }
    precondition {
      condition     = length(local.removed_accounts) <= var.max_removed_accounts
      error_message = "This plan would remove ${length(local.removed_accounts)} account(s) that the last apply of ${terraform.workspace} wrote (${join(", ", slice(local.removed_accounts, 0, min(5, length(local.removed_accounts))))}${length(local.removed_accounts) > 5 ? ", ..." : ""}), more than max_removed_accounts (${var.max_removed_accounts}). Is tenant_configs_dir (${var.tenant_configs_dir}) the right directory? If the removal is intended, plan again with -var max_removed_accounts=${length(local.removed_accounts)}."
    }
    precondition {
      condition     = alltrue([for account, alias in local.account_aliases : alias == "" || try(tonumber(trimprefix(alias, "shard-")) < local.platform.alias_count, false)])
      error_message = "An alias of ${local.aliases_file} is past the platform's ${local.platform.alias_count} aliases: raise alias_count in terraform/platform and apply it first."
    }
  }
}

module "registry" {
  source = "../modules/tenant-registry"

  ssm_prefix        = var.ssm_prefix
  tenants           = local.group_tenants
  account_aliases   = local.account_aliases
  index_shard_count = local.layout.shard_count
  index_groups      = local.layout.groups
  index_group       = max(local.group, 0)
  tags              = var.tags

  depends_on = [terraform_data.guard]
}

module "access" {
  source = "../modules/tenant-invoke-access"

  function_name      = local.platform.function_name
  accounts           = { for account, a in module.registry.accounts : account => { api_ids = a.api_ids, regions = a.regions } }
  account_aliases    = local.account_aliases
  account_parameters = module.registry.parameter_names
  source_region      = var.source_region
}
