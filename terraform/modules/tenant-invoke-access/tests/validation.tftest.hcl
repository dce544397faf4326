# One run per validation block: each rejects a bad value and names the field.

mock_provider "aws" {}

variables {
  function_name      = "tenant-authorizer"
  accounts           = { "111122223333" = {} }
  account_aliases    = { "111122223333" = "shard-001" }
  account_parameters = { "111122223333" = "/tenant-authorizer/accounts/111122223333" }
}

run "function_name_must_not_be_an_arn" {
  command = plan
  variables {
    function_name = "arn:aws:lambda:us-east-1:111122223333:function:x"
  }
  expect_failures = [var.function_name]
}

run "account_keys_must_be_account_ids" {
  command = plan
  variables {
    accounts           = { "1234" = {} }
    account_aliases    = { "1234" = "shard-001" }
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

run "source_region_is_a_region" {
  command = plan
  variables {
    source_region = "*"
  }
  expect_failures = [var.source_region]
}

run "aliases_must_be_shard_names" {
  command = plan
  variables {
    account_aliases = { "111122223333" = "prod" }
  }
  expect_failures = [var.account_aliases]
}
