# The aliases of the shared function, shard-000 ... shard-(alias_count - 1). Each carries
# the invoke permissions of the tenant accounts assigned to it (tenant_configs/aliases.json,
# decision 0020), so an account's authorizer ARN names its alias for good.
#
# Terraform creates an alias pointing at the version published when it is created, and
# then leaves its version alone: `tenant-authz release` moves aliases to a new version
# step by step (routing weights) and back on an alarm. A platform apply that publishes a
# new version therefore changes no alias, and an onboarding apply (terraform/tenants)
# cannot touch them at all.

resource "aws_lambda_alias" "shard" {
  count = var.alias_count

  name             = format("shard-%03d", count.index)
  description      = "Tenant accounts assigned to shard-${format("%03d", count.index)} (tenant_configs/aliases.json); moved between versions by tenant-authz release."
  function_name    = var.function_name
  function_version = var.initial_version

  lifecycle {
    ignore_changes = [function_version, routing_config]
  }
}
