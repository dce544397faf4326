# One run per validation block: each rejects a bad value and names the field.

mock_provider "aws" {}

variables {
  function_name      = "tenant-authorizer"
  function_version   = "1"
  accounts           = { "111122223333" = {} }
  account_parameters = { "111122223333" = "/tenant-authorizer/accounts/111122223333" }
}

run "function_name_must_not_be_an_arn" {
  command = plan
  variables {
    function_name = "arn:aws:lambda:us-east-1:111122223333:function:x"
  }
  expect_failures = [var.function_name]
}

run "function_version_must_be_published" {
  command = plan
  variables {
    function_version = "latest"
  }
  expect_failures = [var.function_version]
}

run "account_keys_must_be_account_ids" {
  command = plan
  variables {
    accounts           = { "1234" = {} }
    account_parameters = { "1234" = "/x" }
  }
  expect_failures = [var.accounts]
}

run "api_ids_must_be_api_gateway_ids" {
  command = plan
  variables {
    accounts = { "111122223333" = { api_ids = ["NOT-AN-ID"] } }
  }
  expect_failures = [var.accounts]
}

run "shard_count_is_bounded" {
  command = plan
  variables {
    alias_shard_count = 0
  }
  expect_failures = [var.alias_shard_count]
}

run "override_keys_must_be_account_ids" {
  command = plan
  variables {
    account_alias_overrides = { "acme" = 1 }
  }
  expect_failures = [var.account_alias_overrides]
}

run "override_shard_must_exist" {
  command = plan
  variables {
    account_alias_overrides = { "111122223333" = 64 }
  }
  expect_failures = [var.account_alias_overrides]
}

run "source_region_is_a_region" {
  command = plan
  variables {
    source_region = "*"
  }
  expect_failures = [var.source_region]
}

run "policy_limit_cannot_exceed_lambda_limit" {
  command = plan
  variables {
    policy_size_limit_bytes = 30000
  }
  expect_failures = [var.policy_size_limit_bytes]
}
