mock_provider "aws" {}

variables {
  function_name   = "tenant-authorizer"
  initial_version = "3"
  alias_count     = 4
}

run "aliases_are_numbered_and_start_at_the_initial_version" {
  command = plan

  assert {
    condition     = [for a in aws_lambda_alias.shard : a.name] == ["shard-000", "shard-001", "shard-002", "shard-003"]
    error_message = "Aliases are shard-000 to shard-(alias_count - 1)."
  }

  assert {
    condition     = alltrue([for a in aws_lambda_alias.shard : a.function_version == "3"])
    error_message = "A new alias points at the initial version."
  }
}

run "aliases_never_point_at_latest" {
  command = plan

  variables {
    initial_version = "$LATEST"
  }

  expect_failures = [var.initial_version]
}
