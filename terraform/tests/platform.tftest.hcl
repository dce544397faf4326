# The platform root over this repository's tenant_configs/: resources per tenant account,
# ARNs per partition, and the checks Terraform makes on tenant files itself.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "999999999999" }
  }
}

variables {
  tenant_configs_dir              = "../tenant_configs"
  allow_local_development_issuers = true
  lambda_package_path             = "../build/lambda-arm64-py3.12.zip"
  lambda_package_base64sha256     = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
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
    values = { name = "cn-northwest-1" }
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
    values = { name = "us-gov-east-1" }
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
