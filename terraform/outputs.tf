output "tenants" {
  description = "What each tenant is told, by tenant id: per bound account, the function ARN (alias-qualified) and authorizer URI to use."
  value = {
    for id, t in local.tenants : id => {
      for account in distinct([for b in t.bindings : b.account_id]) : account => {
        function_arn   = module.access.account_function_arns[account]
        authorizer_uri = module.access.account_invoke_arns[account]
        alias          = module.access.account_aliases[account]
      }
    }
  }

  precondition {
    condition     = length(local.tenant_problems) == 0
    error_message = "Tenant files of ${var.tenant_configs_dir} have problems (run `tenant-authz validate`):\n${join("\n", local.tenant_problems)}"
  }
}

output "account_function_arns" {
  description = "The alias-qualified function ARN of each tenant account, by account id."
  value       = module.access.account_function_arns
}

output "account_authorizer_uris" {
  description = "The authorizer URI of each tenant account (REST authorizer_uri / HTTP authorizer_uri), by account id."
  value       = module.access.account_invoke_arns
}

output "account_aliases" {
  description = "Alias (shard) of each tenant account, by account id."
  value       = module.access.account_aliases
}

output "ssm_parameters" {
  description = "SSM parameter of each tenant account, by account id."
  value       = module.registry.parameter_names
}

output "ssm_document_bytes" {
  description = "Size of each tenant account's SSM document in bytes (limit 8,192)."
  value       = module.registry.document_bytes
}

output "alias_policy_bytes" {
  description = "Rendered size of each alias's resource policy in bytes (limit 20,480)."
  value       = module.access.alias_policy_bytes
}

output "function_name" {
  description = "Name of the shared authorizer function."
  value       = module.function.function_name
}

output "function_version" {
  description = "Published version every alias points at."
  value       = module.function.function_version
}

output "source_code_hash" {
  description = "Base64 SHA-256 of the deployed zip."
  value       = module.function.source_code_hash
}

output "kms_key_alias" {
  description = "Alias of the platform KMS key, for `aws ssm put-parameter --type SecureString --key-id`."
  value       = module.function.kms_key_alias
}

output "log_group_name" {
  description = "Log group of the function."
  value       = module.function.log_group_name
}

output "alarm_names" {
  description = "Alarms of the function, by purpose."
  value       = module.function.alarm_names
}
