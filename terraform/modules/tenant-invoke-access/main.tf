# Aliases of the shared function and one invoke permission per tenant account (or per
# account and API), spread over aliases so that no resource policy reaches Lambda's
# 20 KB limit. See docs/decisions/0002-alias-sharding.md.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition     = data.aws_partition.current.partition
  source_region = coalesce(var.source_region, data.aws_region.current.name)
  function_arn  = "arn:${local.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:${var.function_name}"

  # Stable assignment: a function of the account id alone (or an explicit override).
  shard_of = {
    for account in keys(var.accounts) : account => lookup(
      var.account_alias_overrides,
      account,
      parseint(substr(sha256(account), 0, 8), 16) % var.alias_shard_count,
    )
  }
  alias_of = { for account, shard in local.shard_of : account => format("shard-%03d", shard) }

  # One statement per account (every API) or per account and API id. An authorizer's ARN
  # is API_ID/authorizers/AUTHORIZER_ID, and API ids are 10 characters: "??????????", not
  # "*", which in IAM also matches "/" and so would let an ordinary integration whose
  # path contains "/authorizers/" invoke the function (docs/security.md, "Forged events").
  statements = merge([
    for account, a in var.accounts : {
      for api in(a.api_ids == null ? ["*"] : a.api_ids) :
      (api == "*" ? account : "${account}/${api}") => {
        account      = account
        alias        = local.alias_of[account]
        statement_id = api == "*" ? "tenant-${account}" : "tenant-${account}-${api}"
        source_arn   = "arn:${local.partition}:execute-api:${local.source_region}:${account}:${api == "*" ? "??????????" : api}/authorizers/*"
      }
    }
  ]...)

  # The statement as Lambda stores it (GetPolicy), to size each alias's policy exactly.
  statement_json = {
    for key, s in local.statements : key => jsonencode({
      Sid       = s.statement_id
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "lambda:InvokeFunction"
      Resource  = "${local.function_arn}:${s.alias}"
      Condition = { ArnLike = { "AWS:SourceArn" = s.source_arn } }
    })
  }

  aliases = toset(values(local.alias_of))

  policy_envelope_bytes = length("{\"Version\":\"2012-10-17\",\"Id\":\"default\",\"Statement\":[]}")
  alias_statements      = { for alias in local.aliases : alias => [for key, s in local.statements : key if s.alias == alias] }
  alias_policy_bytes = {
    for alias, keys in local.alias_statements : alias => (
      local.policy_envelope_bytes + sum([for k in keys : length(local.statement_json[k])]) + length(keys) - 1
    )
  }
}

resource "aws_lambda_alias" "shard" {
  for_each = local.aliases

  name             = each.key
  description      = "Tenant accounts hashed to ${each.key}; their invoke permissions live in this alias's policy."
  function_name    = var.function_name
  function_version = var.function_version

  lifecycle {
    precondition {
      condition     = local.alias_policy_bytes[each.key] <= var.policy_size_limit_bytes
      error_message = "The resource policy of alias ${each.key} would be ${local.alias_policy_bytes[each.key]} bytes, over ${var.policy_size_limit_bytes}: move one of its accounts to a less used shard with account_alias_overrides."
    }
  }
}

resource "aws_lambda_permission" "tenant" {
  for_each = local.statements

  statement_id  = each.value.statement_id
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  qualifier     = aws_lambda_alias.shard[each.value.alias].name
  principal     = "apigateway.amazonaws.com"
  source_arn    = each.value.source_arn

  lifecycle {
    # Also orders the writes: the account's SSM document exists before API Gateway may
    # call, and the permission goes before the document on removal.
    precondition {
      condition     = contains(keys(var.account_parameters), each.value.account)
      error_message = "Account ${each.value.account} has no SSM document in account_parameters: grant only accounts that tenant-registry wrote."
    }
  }
}
