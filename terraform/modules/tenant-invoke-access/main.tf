# One invoke permission per tenant account (or per account and API), on the alias the
# account is assigned to (tenant_configs/aliases.json, decision 0020). The aliases
# themselves belong to terraform/platform; `tenant-authz validate` projects every alias's
# resource policy against Lambda's 20 KB limit, since the statements of one alias come
# from every tenant group. See docs/decisions/0002-alias-sharding.md and 0020.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition     = data.aws_partition.current.partition
  source_region = coalesce(var.source_region, data.aws_region.current.id)
  function_arn  = "arn:${local.partition}:lambda:${data.aws_region.current.id}:${data.aws_caller_identity.current.account_id}:function:${var.function_name}"

  # One statement per account (every API) or per account and API id. An authorizer's ARN
  # is API_ID/authorizers/AUTHORIZER_ID, and API ids are 10 characters: "??????????", not
  # "*", which in IAM also matches "/" and so would let an ordinary integration whose
  # path contains "/authorizers/" invoke the function (docs/security.md, "Forged events").
  statements = merge([
    for account, a in var.accounts : {
      for api in(a.api_ids == null ? ["*"] : a.api_ids) :
      (api == "*" ? account : "${account}/${api}") => {
        account      = account
        region       = lookup(a.regions, api, local.source_region)
        alias        = var.account_aliases[account]
        statement_id = api == "*" ? "tenant-${account}-${var.account_aliases[account]}" : "tenant-${account}-${api}-${var.account_aliases[account]}"
        source_arn   = "arn:${local.partition}:execute-api:${lookup(a.regions, api, local.source_region)}:${account}:${api == "*" ? "??????????" : api}/authorizers/*"
      }
    }
  ]...)
}

resource "aws_lambda_permission" "tenant" {
  for_each = local.statements

  statement_id  = each.value.statement_id
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  qualifier     = each.value.alias
  principal     = "apigateway.amazonaws.com"
  source_arn    = each.value.source_arn

  lifecycle {
    # Moving an account to another alias replaces its statement (the qualifier and the
    # statement id name the alias): the new one exists before the old goes, so the
    # account is never without an invoke permission. Terraform extends this to what the
    # permission depends on, the account's SSM document: never -replace a document (it
    # would be written before the old one is deleted, under the same name); rewrite it
    # with an apply or tenant-authz ssm push.
    create_before_destroy = true
    # Also orders the writes: the account's SSM document exists before API Gateway may
    # call, and the permission goes before the document on removal.
    precondition {
      condition     = can(var.account_parameters[each.value.account])
      error_message = "Account ${each.value.account} has no SSM document in account_parameters: grant only accounts that tenant-registry wrote."
    }
    precondition {
      condition     = can(regex("^shard-[0-9]{3}$", each.value.alias))
      error_message = "Account ${each.value.account} has no alias (${each.value.alias == "" ? "none" : each.value.alias}): run tenant-authz aliases on the tenant directory."
    }
  }
}
