# One SSM `String` parameter per tenant account, in the layout of
# docs/decisions/0001-ssm-parameter-layout.md:
#
#   {prefix}/accounts/{account_id} = {"account_id":...,"alias":...,"bindings":[...],"tenants":{...},"version":1}
#
# `alias` names the function alias whose policy grants the account: the runtime refuses a
# call through any other alias (docs/security.md, "Forged events").
#
# Tenant documents have different shapes, and HCL cannot put objects of different
# shapes in one map, so each tenant's JSON arrives pre-rendered and the account document
# is assembled as a string. Keys are emitted in sorted order, as jsonencode does, so that
# `tenant-authz validate` can render (and size) exactly the same bytes.

locals {
  # Every binding, in a stable order: tenants by id, then each tenant's bindings in
  # file order. The runtime tries api-specific bindings before account-wide ones, so
  # this order only decides between overlapping bindings of the same tenant.
  all_bindings = flatten([
    for id in sort(keys(var.tenants)) : [
      for b in var.tenants[id].bindings : {
        account_id = b.account_id
        tenant_id  = id
        api_ids    = b.api_ids
        region     = b.region
        rendered = jsonencode({
          api_ids   = b.api_ids
          response  = b.response
          stages    = b.stages
          tenant_id = id
        })
      }
    ]
  ])

  bindings_by_account = { for b in local.all_bindings : b.account_id => b... }

  documents = {
    for account, bindings in local.bindings_by_account : account => format(
      "{\"account_id\":%s,\"alias\":%s,\"bindings\":[%s],\"tenants\":{%s},\"version\":1}",
      jsonencode(account),
      jsonencode(lookup(var.account_aliases, account, "")),
      join(",", [for b in bindings : b.rendered]),
      join(",", [
        for id in sort(distinct([for b in bindings : b.tenant_id])) :
        format("%s:%s", jsonencode(id), var.tenants[id].document)
      ]),
    )
  }

  # The change index (docs/decisions/0019, 0020): a marker per non-empty shard of this
  # tenant group with the content hash (12 hex of sha256) of each of its accounts'
  # documents, and the group's root with the hash of each marker. A warm instance reads
  # every group's root once per TTL and re-reads only what moved. Accounts are sharded as
  # the runtime shards them; shard n belongs to group n % index_groups.
  index_shard_of = {
    for account in keys(local.documents) :
    account => format("shard-%03d", parseint(substr(sha256(account), 0, 8), 16) % var.index_shard_count)
  }
  index_accounts = { for account, shard in local.index_shard_of : shard => account... }
  index_markers = {
    for shard, accounts in local.index_accounts : shard => format(
      "{\"accounts\":{%s},\"version\":1}",
      join(",", [for a in sort(accounts) : format("%s:%s", jsonencode(a), jsonencode(substr(sha256(local.documents[a]), 0, 12)))]),
    )
  }
  # The root names the layout it was built for: after a layout change, an instance treats
  # a root of the old layout as absent (its accounts read by TTL) until this group is
  # applied again, never as "these accounts do not exist".
  index_root = format(
    "{\"group\":%d,\"groups\":%d,\"shard_count\":%d,\"shards\":{%s},\"version\":1}",
    var.index_group,
    var.index_groups,
    var.index_shard_count,
    join(",", [for shard in sort(keys(local.index_markers)) : format("%s:%s", jsonencode(shard), jsonencode(substr(sha256(local.index_markers[shard]), 0, 12)))]),
  )
  index_root_name = format("index/root-%02d", var.index_group)

  # SSM limits are in bytes; length() counts characters. The base64 length gives the
  # exact byte count: 3 bytes per 4 characters, less one per '=' of padding.
  document_bytes = {
    for account, doc in local.documents : account => (
      length(base64encode(doc)) / 4 * 3 - length(regexall("=", base64encode(doc)))
    )
  }
}

resource "aws_ssm_parameter" "account" {
  #checkov:skip=CKV2_AWS_34:The document holds bindings and public issuer settings, no secret (docs/decisions/0001); HS* secrets are separate SecureString parameters under {prefix}/secrets/.
  for_each = local.documents

  name        = "${var.ssm_prefix}/accounts/${each.key}"
  description = "Tenant authorizer: bindings and tenant configs of account ${each.key}. Managed by Terraform from tenant_configs/; do not edit."
  type        = "String"
  data_type   = "text"
  # Intelligent-Tiering: SSM stores a document as Standard and upgrades it to Advanced
  # once it passes 4 KB. An explicit tier would have to go back down when a document
  # shrinks, and the provider can only downgrade by delete + create: a window in which
  # the account has no document and a cold instance answers 500 (docs/decisions/0001).
  tier = "Intelligent-Tiering"
  # insecure_value (not value) so that `terraform plan` shows what changes for a tenant.
  insecure_value = each.value
  tags           = var.tags

  lifecycle {
    precondition {
      condition     = can(var.account_aliases[each.key])
      error_message = "Account ${each.key} has no alias in account_aliases: every account document names the alias that serves it."
    }
    precondition {
      condition     = local.document_bytes[each.key] <= 8192
      error_message = "The SSM document of account ${each.key} is ${local.document_bytes[each.key]} bytes, over the 8,192-byte limit of an advanced parameter: move tenants or bindings of this account apart, or trim their configs (`tenant-authz validate` shows the size)."
    }
  }
}

# Written after every document they describe (depends_on), and the root after every
# marker: an instance that sees a new root finds the markers and documents it names.
resource "aws_ssm_parameter" "index_shard" {
  #checkov:skip=CKV2_AWS_34:Account ids and content hashes of public documents, no secret (docs/decisions/0019).
  for_each = local.index_markers

  name        = "${var.ssm_prefix}/index/${each.key}"
  description = "Tenant authorizer change index: content hashes of the account documents of ${each.key}. Managed by Terraform; do not edit."
  type        = "String"
  data_type   = "text"
  tier        = "Intelligent-Tiering"
  # insecure_value (not value) so that `terraform plan` shows which hashes change.
  insecure_value = each.value
  tags           = var.tags

  depends_on = [aws_ssm_parameter.account]

  lifecycle {
    precondition {
      condition     = (parseint(trimprefix(each.key, "shard-"), 10) % var.index_groups) == var.index_group
      error_message = "Account(s) of ${each.key} belong to tenant group ${parseint(trimprefix(each.key, "shard-"), 10) % var.index_groups}, not ${var.index_group}: pass only the group's tenants and bindings."
    }
    precondition {
      condition     = length(each.value) <= 8192
      error_message = "The change-index marker ${each.key} is ${length(each.value)} bytes, over 8,192: raise index_shard_count so that fewer accounts share a shard."
    }
  }
}

resource "aws_ssm_parameter" "index_root" {
  #checkov:skip=CKV2_AWS_34:Shard names and content hashes, no secret (docs/decisions/0019).
  name           = "${var.ssm_prefix}/${local.index_root_name}"
  description    = "Tenant authorizer change index root of tenant group ${var.index_group}: the content hash of each of its shard markers. Managed by terraform/tenants; do not edit."
  type           = "String"
  data_type      = "text"
  tier           = "Intelligent-Tiering"
  insecure_value = local.index_root
  tags           = var.tags

  depends_on = [aws_ssm_parameter.index_shard]
}
