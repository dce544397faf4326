# Alias sharding: stable assignment, exact statements, and 1,000 accounts under the
# 20 KB policy limit of every alias (docs/decisions/0002-alias-sharding.md).

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
  function_name    = "tenant-authorizer"
  function_version = "7"
  accounts = {
    "111122223333" = {}
    "444455556666" = { api_ids = ["a1b2c3d4e5", "f6g7h8i9j0"] }
  }
  account_parameters = {
    "111122223333" = "/tenant-authorizer/accounts/111122223333"
    "444455556666" = "/tenant-authorizer/accounts/444455556666"
  }
}

run "one_statement_per_account_or_per_api" {
  command = plan

  assert {
    condition     = length(aws_lambda_permission.tenant) == 3
    error_message = "An account-wide account needs one statement; an account with two API ids needs two."
  }

  assert {
    condition     = aws_lambda_permission.tenant["111122223333"].source_arn == "arn:aws:execute-api:us-east-1:111122223333:??????????/authorizers/*"
    error_message = "An account-wide permission must be pinned to the account's authorizers in the platform's region."
  }

  assert {
    condition     = aws_lambda_permission.tenant["444455556666/f6g7h8i9j0"].source_arn == "arn:aws:execute-api:us-east-1:444455556666:f6g7h8i9j0/authorizers/*"
    error_message = "An API-pinned permission must name the API id."
  }

  assert {
    condition     = alltrue([for p in aws_lambda_permission.tenant : p.principal == "apigateway.amazonaws.com" && p.action == "lambda:InvokeFunction"])
    error_message = "Every permission must be lambda:InvokeFunction for apigateway.amazonaws.com."
  }

  assert {
    condition     = aws_lambda_permission.tenant["444455556666/a1b2c3d4e5"].qualifier == output.account_aliases["444455556666"]
    error_message = "A permission must be granted on the account's alias, not on the unqualified function."
  }

  assert {
    condition     = output.account_aliases["111122223333"] == format("shard-%03d", parseint(substr(sha256("111122223333"), 0, 8), 16) % 64)
    error_message = "The alias must be sha256(account id) mod alias_shard_count."
  }

  assert {
    condition     = alltrue([for a in aws_lambda_alias.shard : a.function_version == "7"])
    error_message = "Every alias must point at the published version."
  }
}

run "adding_an_account_moves_no_other" {
  command = plan

  variables {
    accounts = merge(var.accounts, { "777788889999" = {} })
    account_parameters = merge(var.account_parameters, {
      "777788889999" = "/tenant-authorizer/accounts/777788889999"
    })
  }

  assert {
    condition     = output.account_aliases["111122223333"] == run.one_statement_per_account_or_per_api.account_aliases["111122223333"] && output.account_aliases["444455556666"] == run.one_statement_per_account_or_per_api.account_aliases["444455556666"]
    error_message = "Adding an account must not move an existing account to another alias."
  }
}

run "override_moves_one_account" {
  command = plan

  variables {
    account_alias_overrides = { "111122223333" = 5 }
  }

  assert {
    condition     = output.account_aliases["111122223333"] == "shard-005" && output.account_aliases["444455556666"] == run.one_statement_per_account_or_per_api.account_aliases["444455556666"]
    error_message = "An override must move exactly the account it names."
  }
}

run "partition_aws_cn" {
  command = plan

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-cn", dns_suffix = "amazonaws.com.cn" }
  }
  override_data {
    target = data.aws_region.current
    values = { name = "cn-north-1" }
  }

  assert {
    condition     = aws_lambda_permission.tenant["111122223333"].source_arn == "arn:aws-cn:execute-api:cn-north-1:111122223333:??????????/authorizers/*"
    error_message = "Source ARNs must use the aws-cn partition in China."
  }
}

run "partition_aws_us_gov" {
  command = plan

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-us-gov", dns_suffix = "amazonaws.com" }
  }
  override_data {
    target = data.aws_region.current
    values = { name = "us-gov-west-1" }
  }

  assert {
    condition     = aws_lambda_permission.tenant["444455556666/a1b2c3d4e5"].source_arn == "arn:aws-us-gov:execute-api:us-gov-west-1:444455556666:a1b2c3d4e5/authorizers/*"
    error_message = "Source ARNs must use the aws-us-gov partition in GovCloud."
  }
}

run "one_thousand_accounts_fit" {
  command = plan

  variables {
    # 1,000 accounts: 800 account-wide, 200 pinned to two API ids each (1,200 statements),
    # with a long function name to make every statement as large as it gets.
    function_name = "tenant-authorizer-production-eu-central-1-abcdefghij"
    accounts = {
      for i in range(1000) : format("%012d", 100000000000 + i * 7919) => (
        i % 5 == 0 ? { api_ids = [format("a%09d", i), format("b%09d", i)] } : { api_ids = null }
      )
    }
    account_parameters = {
      for i in range(1000) : format("%012d", 100000000000 + i * 7919) => "/tenant-authorizer/accounts/${format("%012d", 100000000000 + i * 7919)}"
    }
  }

  override_data {
    target = data.aws_region.current
    values = { name = "ap-southeast-2" }
  }

  assert {
    condition     = length(aws_lambda_permission.tenant) == 1200
    error_message = "1,000 accounts (200 with two API ids) must give 1,200 statements."
  }

  assert {
    condition     = max(values(output.alias_policy_bytes)...) < 20480
    error_message = "Every alias policy must stay under 20 KB; the largest is ${max(values(output.alias_policy_bytes)...)} bytes."
  }

  assert {
    condition     = sum(values(output.alias_statement_counts)) == 1200
    error_message = "Every statement must belong to exactly one alias."
  }

  assert {
    condition     = length(output.alias_policy_bytes) <= 64
    error_message = "Accounts must be spread over at most alias_shard_count aliases."
  }
}

run "a_full_alias_fails_the_plan" {
  command = plan

  variables {
    alias_shard_count = 1
    accounts          = { for i in range(80) : format("%012d", 200000000000 + i) => {} }
    account_parameters = {
      for i in range(80) : format("%012d", 200000000000 + i) => "/tenant-authorizer/accounts/${format("%012d", 200000000000 + i)}"
    }
  }

  expect_failures = [aws_lambda_alias.shard]
}

run "an_account_without_document_is_not_granted" {
  command = plan

  variables {
    account_parameters = { "111122223333" = "/tenant-authorizer/accounts/111122223333" }
  }

  expect_failures = [aws_lambda_permission.tenant]
}
