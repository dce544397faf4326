# The platform root: reads every tenant file of var.tenant_configs_dir, writes one SSM
# document per tenant account, grants each tenant account the right to invoke the
# shared function through its alias, and deploys the function itself.
#
# Onboarding a tenant = adding <tenant_id>.yaml + `terraform apply`: only SSM parameters,
# aliases and permissions change; the function is not redeployed.

locals {
  tenant_files = fileset(var.tenant_configs_dir, "*.yaml")
  tenant_docs = {
    for f in local.tenant_files : trimsuffix(f, ".yaml") => yamldecode(file("${var.tenant_configs_dir}/${f}"))
  }

  binding_fields = ["account_id", "api_ids", "stages", "response"]

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
        }
      ], [])
    }
  }

  package_path = coalesce(var.lambda_package_path, "${path.root}/../build/lambda-${var.architecture}-py${var.python_version}.zip")
  package_hash = coalesce(var.lambda_package_base64sha256, try(filebase64sha256(local.package_path), "missing"))
}

module "function" {
  source = "./modules/authorizer-function"

  function_name          = var.function_name
  package_path           = local.package_path
  package_base64sha256   = local.package_hash
  architecture           = var.architecture
  python_version         = var.python_version
  memory_size            = var.memory_size
  timeout_seconds        = var.timeout_seconds
  reserved_concurrency   = var.reserved_concurrency
  ssm_prefix             = var.ssm_prefix
  runtime_settings       = var.runtime_settings
  restart_epoch          = var.restart_epoch
  log_retention_days     = var.log_retention_days
  tracing_mode           = var.tracing_mode
  key_administrator_arns = var.key_administrator_arns
  secret_writer_arns     = var.secret_writer_arns
  alarm_actions          = var.alarm_actions
  alarm_thresholds       = var.alarm_thresholds
  tags                   = var.tags
}

module "registry" {
  source = "./modules/tenant-registry"

  ssm_prefix        = var.ssm_prefix
  tenants           = local.tenants
  account_aliases   = module.access.account_aliases
  index_shard_count = var.index_shard_count
  tags              = var.tags
}

module "access" {
  source = "./modules/tenant-invoke-access"

  function_name           = module.function.function_name
  function_version        = module.function.function_version
  accounts                = { for account, a in module.registry.accounts : account => { api_ids = a.api_ids } }
  account_parameters      = module.registry.parameter_names
  alias_shard_count       = var.alias_shard_count
  account_alias_overrides = var.account_alias_overrides
  source_region           = var.source_region
}
