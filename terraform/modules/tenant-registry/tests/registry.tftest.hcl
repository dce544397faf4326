# The SSM layout of docs/decisions/0001: one parameter per tenant account, exact bytes,
# tier by size, and one run per validation block.

mock_provider "aws" {}

variables {
  tenants = {
    acme = {
      document = "{\"issuers\":[{\"audiences\":[\"api://acme\"],\"issuer\":\"https://acme.okta.com/oauth2/default\"}],\"tenant_id\":\"acme\"}"
      bindings = [
        { account_id = "111122223333", api_ids = ["a1b2c3d4e5"], stages = ["prod"] },
        { account_id = "444455556666", response = "simple" },
      ]
    }
    globex = {
      document = "{\"issuers\":[{\"audiences\":[\"x\"],\"issuer\":\"https://globex.us.auth0.com/\"}],\"tenant_id\":\"globex\"}"
      bindings = [{ account_id = "111122223333", api_ids = ["z9y8x7w6v5"] }]
    }
  }
  account_aliases = { "111122223333" = "shard-007", "444455556666" = "shard-042" }
}

run "one_parameter_per_account" {
  command = plan

  assert {
    condition     = toset(keys(aws_ssm_parameter.account)) == toset(["111122223333", "444455556666"])
    error_message = "There must be one parameter per tenant account."
  }

  assert {
    condition     = aws_ssm_parameter.account["111122223333"].name == "/tenant-authorizer/accounts/111122223333" && aws_ssm_parameter.account["111122223333"].type == "String"
    error_message = "Parameters must be String parameters named {prefix}/accounts/{account_id}."
  }

  assert {
    condition     = output.documents["444455556666"] == "{\"account_id\":\"444455556666\",\"alias\":\"shard-042\",\"bindings\":[{\"api_ids\":null,\"response\":\"simple\",\"stages\":null,\"tenant_id\":\"acme\"}],\"tenants\":{\"acme\":${var.tenants.acme.document}},\"version\":1}"
    error_message = "The account document must be the compact JSON of the layout, keys sorted."
  }

  assert {
    condition     = jsondecode(output.documents["111122223333"]).bindings[*].tenant_id == ["acme", "globex"] && keys(jsondecode(output.documents["111122223333"]).tenants) == ["acme", "globex"]
    error_message = "An account shared by two tenants must hold both bindings and both tenant documents."
  }

  assert {
    condition     = alltrue([for p in aws_ssm_parameter.account : p.tier == "Intelligent-Tiering"]) && output.document_bytes["444455556666"] == length(output.documents["444455556666"])
    error_message = "Documents use Intelligent-Tiering (never a downgrade by delete + create), and ASCII byte counts equal lengths."
  }

  assert {
    condition     = output.accounts["111122223333"].api_ids == tolist(["a1b2c3d4e5", "z9y8x7w6v5"]) && output.accounts["444455556666"].api_ids == null
    error_message = "accounts must give the API ids to pin, or null for an account-wide binding."
  }
}

run "bytes_are_counted_not_characters" {
  command = plan

  variables {
    tenants = {
      acme = {
        document = "{\"description_for_sizing\":\"${join("", [for i in range(700) : "ééé"])}\",\"tenant_id\":\"acme\"}"
        bindings = [{ account_id = "111122223333" }]
      }
    }
  }

  assert {
    condition     = output.document_bytes["111122223333"] > 4096 && length(output.documents["111122223333"]) < 4096
    error_message = "2,100 two-byte characters (4,200 bytes) exceed 4,096 bytes: SSM will store the document in the Advanced tier."
  }
}

run "over_8_kb_fails_the_plan" {
  command = plan

  variables {
    tenants = {
      acme = {
        document = "{\"padding\":\"${join("", [for i in range(1000) : "xxxxxxxxx"])}\",\"tenant_id\":\"acme\"}"
        bindings = [{ account_id = "111122223333" }]
      }
    }
  }

  expect_failures = [aws_ssm_parameter.account]
}

run "ssm_prefix_has_no_trailing_slash" {
  command = plan
  variables {
    ssm_prefix = "/tenant-authorizer/"
  }
  expect_failures = [var.ssm_prefix]
}

run "tenant_ids_are_lower_case" {
  command = plan
  variables {
    tenants = { Acme = { document = "{\"tenant_id\":\"Acme\"}", bindings = [{ account_id = "111122223333" }] } }
  }
  expect_failures = [var.tenants]
}

run "document_tenant_id_equals_key" {
  command = plan
  variables {
    tenants = { acme = { document = "{\"tenant_id\":\"globex\"}", bindings = [{ account_id = "111122223333" }] } }
  }
  expect_failures = [var.tenants]
}

run "document_has_no_bindings" {
  command = plan
  variables {
    tenants = { acme = { document = "{\"bindings\":[],\"tenant_id\":\"acme\"}", bindings = [{ account_id = "111122223333" }] } }
  }
  expect_failures = [var.tenants]
}

run "tenant_has_bindings" {
  command = plan
  variables {
    tenants = { acme = { document = "{\"tenant_id\":\"acme\"}", bindings = [] } }
  }
  expect_failures = [var.tenants]
}

run "account_id_has_12_digits" {
  command = plan
  variables {
    tenants = { acme = { document = "{\"tenant_id\":\"acme\"}", bindings = [{ account_id = "11112222333" }] } }
  }
  expect_failures = [var.tenants]
}

run "api_ids_are_api_gateway_ids" {
  command = plan
  variables {
    tenants = { acme = { document = "{\"tenant_id\":\"acme\"}", bindings = [{ account_id = "111122223333", api_ids = [] }] } }
  }
  expect_failures = [var.tenants]
}

run "stages_are_stage_names" {
  command = plan
  variables {
    tenants = { acme = { document = "{\"tenant_id\":\"acme\"}", bindings = [{ account_id = "111122223333", stages = ["no spaces"] }] } }
  }
  expect_failures = [var.tenants]
}

run "response_is_iam_or_simple" {
  command = plan
  variables {
    tenants = { acme = { document = "{\"tenant_id\":\"acme\"}", bindings = [{ account_id = "111122223333", response = "allow" }] } }
  }
  expect_failures = [var.tenants]
}

run "one_api_one_tenant" {
  command = plan
  variables {
    tenants = {
      acme   = { document = "{\"tenant_id\":\"acme\"}", bindings = [{ account_id = "111122223333", api_ids = ["a1b2c3d4e5"] }] }
      globex = { document = "{\"tenant_id\":\"globex\"}", bindings = [{ account_id = "111122223333", api_ids = ["a1b2c3d4e5"] }] }
    }
  }
  expect_failures = [var.tenants]
}

run "one_account_wide_tenant_per_account" {
  command = plan
  variables {
    tenants = {
      acme   = { document = "{\"tenant_id\":\"acme\"}", bindings = [{ account_id = "111122223333" }] }
      globex = { document = "{\"tenant_id\":\"globex\"}", bindings = [{ account_id = "111122223333" }] }
    }
  }
  expect_failures = [var.tenants]
}

run "every_account_document_names_its_alias" {
  command = plan
  variables {
    account_aliases = { "111122223333" = "shard-007" }
  }
  expect_failures = [aws_ssm_parameter.account]
}

run "aliases_are_alias_names_not_versions" {
  command = plan
  variables {
    account_aliases = { "111122223333" = "7", "444455556666" = "shard-042" }
  }
  expect_failures = [var.account_aliases]
}

run "change_index_lists_every_document_hash" {
  command = plan

  assert {
    condition = alltrue([
      for account, doc in output.documents :
      jsondecode(output.index_parameters[format("index/shard-%03d", parseint(substr(sha256(account), 0, 8), 16) % 128)]).accounts[account] == substr(sha256(doc), 0, 12)
    ])
    error_message = "Each account's shard marker must hold the first 12 hex of the sha256 of its document."
  }

  assert {
    condition = alltrue([
      for name, marker in output.index_parameters :
      jsondecode(output.index_parameters["index/root-00"]).shards[trimprefix(name, "index/")] == substr(sha256(marker), 0, 12) if name != "index/root-00"
    ]) && jsondecode(output.index_parameters["index/root-00"]).group == 0
    error_message = "The group's root must name its group and hold the hash of every marker."
  }

  assert {
    condition     = aws_ssm_parameter.index_root.name == "/tenant-authorizer/index/root-00" && alltrue([for p in aws_ssm_parameter.index_shard : startswith(p.name, "/tenant-authorizer/index/shard-")])
    error_message = "The index lives under {prefix}/index/."
  }
}

run "index_shard_count_is_bounded" {
  command = plan

  variables {
    index_shard_count = 300
  }

  expect_failures = [var.index_shard_count]
}

run "a_group_writes_only_its_own_shards" {
  command = plan

  variables {
    index_groups = 2
    index_group  = 1
  }

  # 111122223333 hashes to shard-102 (group 0 of 2), 444455556666 to shard-077 (group 1):
  # as group 1 with both accounts, the marker of shard-102 is refused.
  expect_failures = [aws_ssm_parameter.index_shard]
}
