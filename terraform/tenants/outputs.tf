output "group" {
  description = "The tenant group this workspace is (group-NN), and the accounts it writes."
  value       = { name = terraform.workspace, accounts = sort(tolist(local.group_accounts)) }
}

output "tenants" {
  description = "What each tenant of this group is told, by tenant id: per bound account of the group, the function ARN (alias-qualified) and the authorizer URI in source_region. For APIs whose binding names another region, and for the response type and token location, use handoffs."
  value = {
    for id, t in local.group_tenants : id => {
      for account in distinct([for b in t.bindings : b.account_id]) : account => {
        function_arn   = module.access.account_function_arns[account]
        authorizer_uri = module.access.account_invoke_arns[account]
        alias          = local.account_aliases[account]
      }
    }
  }

  precondition {
    condition     = length(local.tenant_problems) == 0
    error_message = "Tenant files of ${var.tenant_configs_dir} have problems (run `tenant-authz validate`):\n${join("\n", local.tenant_problems)}"
  }
}

output "handoffs" {
  description = "The hand-off per account and API of this group (\"ACCOUNT/API_ID\", or \"ACCOUNT/*\" for an account-wide binding): function ARN, authorizer URI, region, response type, where the tenant's tokens are and whether they are bound to the client (sender_constraint). The tenant passes it to modules/tenant-api-authorizer (variable handoff), which refuses a mismatch at plan time."
  value = merge([
    for id, t in local.group_tenants : {
      for pair in flatten([for b in t.bindings : [for api in coalesce(b.api_ids, ["*"]) : { binding = b, api = api }]]) :
      "${pair.binding.account_id}/${pair.api}" => {
        tenant_id    = id
        function_arn = module.access.account_function_arns[pair.binding.account_id]
        # The statement that covers the API: its own, or the account-wide one when the
        # account has an account-wide binding (then the permission admits every API).
        authorizer_uri  = module.access.statement_invoke_arns[contains(keys(module.access.statements), "${pair.binding.account_id}/${pair.api}") ? "${pair.binding.account_id}/${pair.api}" : pair.binding.account_id]
        region          = module.access.statements[contains(keys(module.access.statements), "${pair.binding.account_id}/${pair.api}") ? "${pair.binding.account_id}/${pair.api}" : pair.binding.account_id].region
        response_type   = pair.binding.response
        identity_source = try(local.tenant_docs[id].token.query, null) != null ? "query:${local.tenant_docs[id].token.query}" : try(local.tenant_docs[id].token.cookie, null) != null ? "cookie:${local.tenant_docs[id].token.cookie}" : "header:${coalesce(try(local.tenant_docs[id].token.header, null), "Authorization")}"
        # An issuer that requires bound tokens (dpop first, then mtls): the tenant module
        # then turns the result cache off and passes the DPoP header (decision 0028).
        sender_constraint = contains([for i in coalesce(try(local.tenant_docs[id].issuers, null), []) : try(coalesce(i.sender_constraint, "none"), "none")], "dpop") ? "dpop" : contains([for i in coalesce(try(local.tenant_docs[id].issuers, null), []) : try(coalesce(i.sender_constraint, "none"), "none")], "mtls") ? "mtls" : "none"
      }
    }
  ]...)
}

output "account_aliases" {
  description = "Alias of each tenant account of this group, by account id (from aliases.json)."
  value       = local.account_aliases
}

output "ssm_parameters" {
  description = "SSM parameter of each tenant account of this group, by account id."
  value       = module.registry.parameter_names
}

output "ssm_document_bytes" {
  description = "Size of each account's SSM document in bytes (limit 8,192)."
  value       = module.registry.document_bytes
}
