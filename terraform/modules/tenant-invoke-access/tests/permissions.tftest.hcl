# Invoke permissions: exact statements on the assigned alias (docs/decisions/0002, 0020).

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

variables {
  function_name = "tenant-authorizer"
  accounts = {
    "111122223333" = {}
    "444455556666" = { api_ids = ["a1b2c3d4e5", "f6g7h8i9j0"] }
  }
  account_aliases = { "111122223333" = "shard-017", "444455556666" = "shard-200" }
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
}

run "permissions_are_on_the_assigned_alias" {
  command = plan

  assert {
    condition     = aws_lambda_permission.tenant["111122223333"].qualifier == "shard-017" && aws_lambda_permission.tenant["444455556666/a1b2c3d4e5"].qualifier == "shard-200"
    error_message = "Each permission lives in the policy of the alias aliases.json assigns its account."
  }

  assert {
    condition     = output.account_function_arns["444455556666"] == "arn:aws:lambda:us-east-1:999999999999:function:tenant-authorizer:shard-200"
    error_message = "The hand-off names the alias-qualified function ARN."
  }

  assert {
    condition     = output.account_invoke_arns["111122223333"] == "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:999999999999:function:tenant-authorizer:shard-017/invocations"
    error_message = "The authorizer URI invokes the alias."
  }
}

run "an_account_without_an_alias_fails_the_plan" {
  command = plan

  variables {
    account_aliases = { "111122223333" = "shard-017", "444455556666" = "" }
  }

  expect_failures = [aws_lambda_permission.tenant]
}
