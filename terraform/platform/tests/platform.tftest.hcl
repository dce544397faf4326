# The platform root: the function, its aliases and the facts terraform/tenants reads. It
# reads no tenant file, so a release or an emergency apply never depends on one.

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
  lambda_package_path         = "../../build/lambda-arm64-py3.12.zip"
  lambda_package_base64sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  alarm_actions               = ["arn:aws:sns:us-east-1:999999999999:oncall"]
}

run "the_layout_and_platform_facts_are_written" {
  command = plan

  assert {
    condition     = jsondecode(aws_ssm_parameter.layout.insecure_value) == { groups = 8, shard_count = 128, version = 1 }
    error_message = "The layout parameter names the groups and shard count (defaults 8 and 128)."
  }

  assert {
    condition     = aws_ssm_parameter.layout.name == "/tenant-authorizer/index/layout"
    error_message = "The layout lives at {prefix}/index/layout, where the runtime reads it."
  }

  assert {
    condition     = aws_ssm_parameter.platform.name == "/tenant-authorizer/platform"
    error_message = "The platform facts terraform/tenants reads (alias count, function) live at {prefix}/platform; the e2e test reads their value."
  }

  assert {
    condition     = length(module.aliases.alias_names) == 256 && module.aliases.alias_names[255] == "shard-255"
    error_message = "256 aliases by default, shard-000 to shard-255."
  }
}

run "more_groups_than_shards_is_refused" {
  command = plan

  variables {
    tenant_groups     = 9
    index_shard_count = 4
  }

  expect_failures = [var.index_shard_count]
}

run "at_most_nine_groups" {
  command = plan

  variables {
    tenant_groups = 10
  }

  expect_failures = [var.tenant_groups]
}

run "alarms_that_reach_no_one_warn" {
  command = plan

  variables {
    alarm_actions = []
  }

  expect_failures = [check.alarms_reach_someone]
}

run "an_alarm_topic_reaches_someone" {
  command = plan

  variables {
    alarm_actions = []
    alarm_topic   = { subscriptions = [{ protocol = "email", endpoint = "oncall@example.com" }] }
  }

  assert {
    condition     = length(module.function.alarm_actions) == 1
    error_message = "The topic is where every alarm goes."
  }
}
