output "parameter_names" {
  description = "SSM parameter name of each tenant account, by account id."
  value       = { for account, p in aws_ssm_parameter.account : account => p.name }
}

output "documents" {
  description = "The JSON document written for each tenant account, by account id."
  value       = local.documents
}

output "document_bytes" {
  description = "Size in bytes of each account's document (SSM limits: 4,096 standard, 8,192 advanced)."
  value       = local.document_bytes
}

output "accounts" {
  description = "Per tenant account: the tenants bound to it and the API ids its invoke permission must cover (null: every API of the account)."
  value = {
    for account, bindings in local.bindings_by_account : account => {
      tenant_ids = sort(distinct([for b in bindings : b.tenant_id]))
      api_ids    = anytrue([for b in bindings : b.api_ids == null]) ? null : sort(distinct(flatten([for b in bindings : b.api_ids])))
      # The region each binding names, by API id ("*": account-wide); omitted: source_region.
      regions = merge([for b in bindings : { for api in coalesce(b.api_ids, ["*"]) : api => b.region if b.region != null }]...)
    }
  }
}

output "index_parameters" {
  description = "This group's change index (docs/decisions/0019), by parameter name under the prefix: index/root-GG and one index/shard-NNN per non-empty shard."
  value       = merge({ (local.index_root_name) = local.index_root }, { for shard, marker in local.index_markers : "index/${shard}" => marker })
}
