# The tenants root over this repository's tenant_configs/: resources per tenant account,
# ARNs per partition, the checks Terraform makes on tenant files itself, and the groups.
# The layout and platform facts terraform/platform writes to SSM are given here.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_region" {
    defaults = { id = "us-east-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "999999999999" }
  }
}

override_data {
  target = data.aws_ssm_parameter.layout
  values = { insecure_value = "{\"groups\":1,\"shard_count\":128,\"version\":1}" }
}

override_data {
  target = data.aws_ssm_parameter.platform
  values = { insecure_value = "{\"alias_count\":256,\"function_arn\":\"arn:aws:lambda:us-east-1:999999999999:function:tenant-authorizer\",\"function_name\":\"tenant-authorizer\",\"version\":1}" }
}

# Nothing applied yet: no shard marker lists an account.
override_data {
  target = data.aws_ssm_parameters_by_path.index
  values = { names = [], values = [] }
}

variables {
  tenant_configs_dir              = "../../tenant_configs"
  allow_local_development_issuers = true
}

run "one_document_and_permissions_per_tenant_account" {
  command = plan

  assert {
    condition     = length(output.ssm_parameters) == 12
    error_message = "The 12 sample tenants bind 12 accounts: one SSM document each."
  }

  assert {
    condition     = output.ssm_parameters["161803398874"] == "/tenant-authorizer/accounts/161803398874"
    error_message = "Documents are named {prefix}/accounts/{account_id}."
  }

  assert {
    condition     = toset([for b in jsondecode(module.registry.documents["161803398874"]).bindings : "${b.api_ids[0]}:${b.response}"]) == toset(["k1l2m3n4o5:simple", "p6q7r8s9t0:iam"])
    error_message = "initech-entra's two bindings (HTTP simple, REST iam) must be in its account's document."
  }

  assert {
    condition     = !can(jsondecode(module.registry.documents["161803398874"]).tenants["initech-entra"].description)
    error_message = "Embedded tenant documents carry no description (nor bindings)."
  }

  assert {
    condition     = module.access.statements["271828182845"].source_arn == "arn:aws:execute-api:us-east-1:271828182845:??????????/authorizers/*"
    error_message = "globex-auth0 binds every API of its account: one account-wide permission."
  }

  assert {
    condition     = length([for k, p in module.access.statements : k if startswith(k, "314159265358/")]) == 2
    error_message = "acme-okta pins two API ids: two permissions."
  }

  assert {
    condition     = alltrue([for t in output.tenants : length(t) > 0])
    error_message = "Every tenant is told the ARN of each of its accounts."
  }

  assert {
    condition     = output.tenants["initech-entra"]["161803398874"].function_arn == "arn:aws:lambda:us-east-1:999999999999:function:tenant-authorizer:${jsondecode(file("../../tenant_configs/aliases.json"))["161803398874"]}"
    error_message = "An account's function ARN is qualified with the alias aliases.json assigns it."
  }

  assert {
    condition     = alltrue([for s in module.access.statements : s.alias == jsondecode(file("../../tenant_configs/aliases.json"))[s.account]])
    error_message = "Every permission is on the account's assigned alias."
  }

  assert {
    condition     = length(module.registry.index_parameters) > 1 && contains(keys(module.registry.index_parameters), "index/root-00")
    error_message = "The group writes its root (index/root-00) and its shard markers."
  }

  assert {
    condition     = output.ssm_document_bytes["282842712474"] == length(module.registry.documents["282842712474"]) && alltrue([for b in values(output.ssm_document_bytes) : b <= 4096])
    error_message = "The sample documents are small enough for SSM's Standard tier (no advanced-parameter charges)."
  }
}

run "partition_aws_cn" {
  command = plan

  override_data {
    target = module.access.data.aws_partition.current
    values = { partition = "aws-cn", dns_suffix = "amazonaws.com.cn" }
  }
  override_data {
    target = module.access.data.aws_region.current
    values = { id = "cn-northwest-1" }
  }

  assert {
    condition     = alltrue([for p in module.access.statements : startswith(p.source_arn, "arn:aws-cn:execute-api:cn-northwest-1:")])
    error_message = "Every source ARN uses the aws-cn partition."
  }
}

run "partition_aws_us_gov" {
  command = plan

  override_data {
    target = module.access.data.aws_partition.current
    values = { partition = "aws-us-gov", dns_suffix = "amazonaws.com" }
  }
  override_data {
    target = module.access.data.aws_region.current
    values = { id = "us-gov-east-1" }
  }

  assert {
    condition     = alltrue([for p in module.access.statements : startswith(p.source_arn, "arn:aws-us-gov:execute-api:us-gov-east-1:")])
    error_message = "Every source ARN uses the aws-us-gov partition."
  }
}

run "local_development_issuers_need_the_flag" {
  command = plan

  variables {
    allow_local_development_issuers = false
  }

  expect_failures = [output.tenants]
}

run "unknown_binding_fields_are_refused" {
  command = plan

  variables {
    tenant_configs_dir = "tests/fixtures/unknown-binding-field"
  }

  expect_failures = [output.tenants]
}

run "tenant_configs_dir_holds_tenants" {
  command = plan

  variables {
    tenant_configs_dir = "tests"
  }

  expect_failures = [var.tenant_configs_dir]
}

run "a_group_writes_only_its_accounts" {
  command = plan

  override_data {
    target = data.aws_ssm_parameter.layout
    values = { insecure_value = "{\"groups\":3,\"shard_count\":128,\"version\":1}" }
  }

  variables {
    group = 1
  }

  assert {
    condition     = length(output.ssm_parameters) > 0 && length(output.ssm_parameters) < 12
    error_message = "Of three groups, group 1 writes some of the 12 accounts, not all."
  }

  assert {
    condition     = alltrue([for a in keys(output.ssm_parameters) : (parseint(substr(sha256(a), 0, 8), 16) % 128) % 3 == 1])
    error_message = "Group 1 writes the accounts of shards n % 3 == 1."
  }

  assert {
    condition     = contains(keys(module.registry.index_parameters), "index/root-01") && !contains(keys(module.registry.index_parameters), "index/root-00")
    error_message = "Group 1 writes its own root only."
  }
}

run "the_default_workspace_needs_a_group_when_there_are_several" {
  command = plan

  override_data {
    target = data.aws_ssm_parameter.layout
    values = { insecure_value = "{\"groups\":3,\"shard_count\":128,\"version\":1}" }
  }

  expect_failures = [terraform_data.guard]
}

run "an_alias_past_the_platform_count_is_refused" {
  command = plan

  override_data {
    target = data.aws_ssm_parameter.platform
    values = { insecure_value = "{\"alias_count\":1,\"function_arn\":\"arn:aws:lambda:us-east-1:999999999999:function:tenant-authorizer\",\"function_name\":\"tenant-authorizer\",\"version\":1}" }
  }

  expect_failures = [terraform_data.guard]
}

run "an_account_without_alias_is_refused" {
  command = plan

  variables {
    tenant_configs_dir = "tests/fixtures/no-aliases"
  }

  expect_failures = [terraform_data.guard]
}

run "the_last_tenant_can_be_offboarded" {
  command = plan

  variables {
    tenant_configs_dir = "tests/fixtures/offboarded"
  }

  assert {
    condition     = length(output.ssm_parameters) == 0 && length(module.access.statements) == 0
    error_message = "A tenant directory left with aliases.json only plans no document and no permission (the apply removes the last tenant's)."
  }
}

# A wrong tenant_configs_dir (one file where the last apply wrote twelve accounts) would
# plan the removal of every other tenant: refused, with the way to say it is intended.
run "a_mass_removal_is_refused" {
  command = plan

  override_data {
    target = data.aws_ssm_parameters_by_path.index
    values = {
      names  = ["/tenant-authorizer/index/root-00", "/tenant-authorizer/index/shard-005"]
      values = ["{\"shards\":{\"shard-005\":\"0123456789ab\"}}", "{\"accounts\": {\"210000000000\": \"0123456789ab\", \"210000000001\": \"0123456789ab\", \"210000000002\": \"0123456789ab\", \"210000000003\": \"0123456789ab\", \"210000000004\": \"0123456789ab\", \"210000000005\": \"0123456789ab\", \"210000000006\": \"0123456789ab\", \"210000000007\": \"0123456789ab\", \"210000000008\": \"0123456789ab\", \"210000000009\": \"0123456789ab\", \"210000000010\": \"0123456789ab\", \"210000000011\": \"0123456789ab\"}, \"version\": 1}"]
    }
  }

  variables {
    tenant_configs_dir = "tests/fixtures/offboarded"
  }

  expect_failures = [terraform_data.guard]
}

run "a_mass_removal_said_to_be_intended_plans" {
  command = plan

  override_data {
    target = data.aws_ssm_parameters_by_path.index
    values = {
      names  = ["/tenant-authorizer/index/root-00", "/tenant-authorizer/index/shard-005"]
      values = ["{\"shards\":{\"shard-005\":\"0123456789ab\"}}", "{\"accounts\": {\"210000000000\": \"0123456789ab\", \"210000000001\": \"0123456789ab\", \"210000000002\": \"0123456789ab\", \"210000000003\": \"0123456789ab\", \"210000000004\": \"0123456789ab\", \"210000000005\": \"0123456789ab\", \"210000000006\": \"0123456789ab\", \"210000000007\": \"0123456789ab\", \"210000000008\": \"0123456789ab\", \"210000000009\": \"0123456789ab\", \"210000000010\": \"0123456789ab\", \"210000000011\": \"0123456789ab\"}, \"version\": 1}"]
    }
  }

  variables {
    tenant_configs_dir   = "tests/fixtures/offboarded"
    max_removed_accounts = 12
  }

  assert {
    condition     = length(local.removed_accounts) == 12
    error_message = "The twelve accounts of the last apply are counted as removed."
  }
}

run "a_handoff_per_account_and_api" {
  command = plan

  assert {
    condition     = length(output.handoffs) > 0 && alltrue([for k, h in output.handoffs : h.region == "us-east-1" && contains(["iam", "simple"], h.response_type) && can(regex("^(header|query|cookie):", h.identity_source)) && startswith(h.authorizer_uri, "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${h.function_arn}/")])
    error_message = "Every binding's API gets a hand-off: region, response type, token location, and a URI of its function ARN."
  }

  assert {
    condition     = output.handoffs["314159265358/a1b2c3d4e5"].identity_source == "header:Authorization" && output.handoffs["331662479036/e1m2a3i4l5"].identity_source == "header:authtoken"
    error_message = "A tenant without a token section reads the Authorization header; phil-email's tokens are in its authtoken header."
  }
}

run "the_handoff_names_the_region_of_the_tenant_apis" {
  command = plan

  variables {
    source_region = "eu-west-1"
  }

  assert {
    condition     = alltrue([for h in output.handoffs : h.region == "eu-west-1" && startswith(h.authorizer_uri, "arn:aws:apigateway:eu-west-1:")])
    error_message = "The URI and the hand-off name the APIs' region, as the permission does."
  }
}

run "a_binding_names_the_region_of_its_apis" {
  command = plan

  variables {
    tenant_configs_dir = "tests/fixtures/regions"
  }

  assert {
    condition     = module.access.statements["444455556666/e1u2w3e4s5"].source_arn == "arn:aws:execute-api:eu-west-1:444455556666:e1u2w3e4s5/authorizers/*" && module.access.statements["444455556666/u1s2e3a4s5"].source_arn == "arn:aws:execute-api:us-east-1:444455556666:u1s2e3a4s5/authorizers/*"
    error_message = "The permission admits the binding's region; a binding without one gets the platform's."
  }

  assert {
    condition     = output.handoffs["444455556666/e1u2w3e4s5"].region == "eu-west-1" && startswith(output.handoffs["444455556666/e1u2w3e4s5"].authorizer_uri, "arn:aws:apigateway:eu-west-1:") && output.handoffs["444455556666/e1u2w3e4s5"].response_type == "simple"
    error_message = "The hand-off names the binding's region, its URI and its response type."
  }
}

# Two groups where there was one: shard-005 now belongs to group 1, so group-00's plan
# drops every account of it. The accounts its root listed count, whatever the layout.
run "a_layout_change_that_moves_accounts_away_is_refused" {
  command = plan

  override_data {
    target = data.aws_ssm_parameter.layout
    values = { insecure_value = "{\"groups\":2,\"shard_count\":128,\"version\":1}" }
  }

  override_data {
    target = data.aws_ssm_parameters_by_path.index
    values = {
      names  = ["/tenant-authorizer/index/root-00", "/tenant-authorizer/index/shard-005"]
      values = ["{\"shards\":{\"shard-005\":\"0123456789ab\"}}", "{\"accounts\": {\"210000000000\": \"0123456789ab\", \"210000000001\": \"0123456789ab\", \"210000000002\": \"0123456789ab\", \"210000000003\": \"0123456789ab\", \"210000000004\": \"0123456789ab\", \"210000000005\": \"0123456789ab\", \"210000000006\": \"0123456789ab\", \"210000000007\": \"0123456789ab\", \"210000000008\": \"0123456789ab\", \"210000000009\": \"0123456789ab\", \"210000000010\": \"0123456789ab\", \"210000000011\": \"0123456789ab\"}, \"version\": 1}"]
    }
  }

  variables {
    tenant_configs_dir = "tests/fixtures/offboarded"
    group              = 0
  }

  expect_failures = [terraform_data.guard]
}

run "an_api_binding_in_another_region_than_the_account_wide_one_is_refused" {
  command = plan

  variables {
    tenant_configs_dir = "tests/fixtures/region-conflict"
  }

  expect_failures = [terraform_data.guard]
}

# The same two bindings in one region: the API binding is covered by the account-wide
# statement, and its hand-off says so (it once failed the plan with "Invalid index").
run "an_api_binding_beside_an_account_wide_one_gets_its_handoff" {
  command = plan

  variables {
    tenant_configs_dir = "tests/fixtures/account-wide-and-api"
  }

  assert {
    condition     = output.handoffs["444455556666/e1u2w3e4s5"].authorizer_uri == output.handoffs["444455556666/*"].authorizer_uri && output.handoffs["444455556666/e1u2w3e4s5"].tenant_id == "tb"
    error_message = "The API binding's hand-off names the account-wide statement that covers it."
  }
}
