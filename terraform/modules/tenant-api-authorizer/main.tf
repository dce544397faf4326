# The tenant side: an authorizer in the tenant's own API that calls the platform's
# shared function (through the alias the platform granted this account), plus
# browser-friendly gateway responses for REST APIs. No aws_lambda_permission here: the
# platform grants invoke rights in its own account.

data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  is_rest      = var.api.kind == "REST"
  is_http      = var.api.kind == "HTTP"
  is_websocket = var.api.kind == "WEBSOCKET"

  function_arn   = var.handoff != null ? var.handoff.function_arn : var.authorizer_function_arn
  authorizer_uri = var.handoff != null ? var.handoff.authorizer_uri : "arn:${data.aws_partition.current.partition}:apigateway:${data.aws_region.current.id}:lambda:path/2015-03-31/functions/${local.function_arn}/invocations"

  simple_responses = local.is_http && coalesce(var.http.enable_simple_responses, try(var.handoff.response_type == "simple", false)) && var.http.payload_format_version == "2.0"

  # The hand-off against this API: each mismatch names the field (plan-time error).
  token_in           = try(split(":", var.handoff.identity_source)[0], "")
  token_name_as_sent = try(join(":", slice(split(":", var.handoff.identity_source), 1, length(split(":", var.handoff.identity_source)))), "")
  token_name         = lower(local.token_name_as_sent)
  token_sources = {
    REST      = { header = "method.request.header.", query = "method.request.querystring.", cookie = "method.request.header." }
    HTTP      = { header = "$request.header.", query = "$request.querystring.", cookie = "$request.header." }
    WEBSOCKET = { header = "route.request.header.", query = "route.request.querystring.", cookie = "route.request.header." }
  }
  # Header names compare without case (HTTP); query parameter names with it (the
  # runtime reads them as sent).
  expected_source = var.handoff == null ? "" : (local.token_in == "query" ? "${local.token_sources[var.api.kind].query}${local.token_name_as_sent}" : lower("${local.token_sources[var.api.kind][local.token_in]}${local.token_in == "cookie" ? "cookie" : local.token_name}"))
  identity_list   = [for s in(local.is_rest ? split(",", local.rest_identity_source) : (local.is_http ? local.http_identity_sources : var.websocket.identity_sources)) : strcontains(lower(s), ".header.") ? lower(trimspace(s)) : trimspace(s)]
  handoff_problems = var.handoff == null ? [] : concat(
    var.handoff.region == data.aws_region.current.id ? [] : ["handoff.region: the platform granted this account's APIs in ${var.handoff.region}, but this API's provider is in ${data.aws_region.current.id}: ask the platform team for a binding with region ${data.aws_region.current.id}, or deploy the API there"],
    var.authorizer_function_arn == null || var.authorizer_function_arn == var.handoff.function_arn ? [] : ["handoff.function_arn: ${var.handoff.function_arn} is not authorizer_function_arn (${coalesce(var.authorizer_function_arn, "-")}): drop authorizer_function_arn, the hand-off carries it"],
    var.handoff.response_type != "simple" || local.simple_responses ? [] : ["handoff.response_type: the binding answers simple responses, which only an HTTP API authorizer with payload 2.0 and http.enable_simple_responses reads (this is ${var.api.kind}${local.is_http ? ", payload ${var.http.payload_format_version}, enable_simple_responses ${coalesce(var.http.enable_simple_responses, true)}" : ""})"],
    var.handoff.response_type != "iam" || !local.simple_responses ? [] : ["handoff.response_type: the binding answers IAM policies, but http.enable_simple_responses is true: set it to false, or ask for response: simple in the binding"],
    contains(local.identity_list, local.expected_source) ? [] : ["handoff.identity_source: the tenant's tokens come in ${var.handoff.identity_source}, but this authorizer's identity sources are ${join(", ", local.identity_list)}: add ${local.expected_source}"],
    !(local.is_rest && var.rest.type == "TOKEN" && local.token_in != "header") ? [] : ["handoff.identity_source: a REST TOKEN authorizer passes one header as the token, but the tenant's tokens come in ${var.handoff.identity_source}: use rest.type REQUEST"],
  )
  # An HTTP API with payload 2.0 must say which answer it reads: simple responses or IAM
  # policies (the binding's response), since a wrong guess fails every request.
  http_problems = local.is_http && var.http.payload_format_version == "2.0" && var.http.enable_simple_responses == null && var.handoff == null ? ["http.enable_simple_responses: say which answer this HTTP API reads: true for a binding with response: simple, false for response: iam (the default of a binding); or pass handoff, which says it"] : []

  # Sender-constrained tokens (RFC 8705, RFC 9449): a proof is good for one request, and
  # the cache keys on the token, not the certificate, so answers are never cached; DPoP
  # proofs come in a header API Gateway must pass (and then requires).
  sender_constraint    = var.sender_constraint != "none" ? var.sender_constraint : try(coalesce(var.handoff.sender_constraint, "none"), "none")
  sender_constrained   = local.sender_constraint != "none"
  rest_base_source     = coalesce(var.rest.identity_source, "method.request.header.Authorization")
  rest_needs_dpop      = local.sender_constraint == "dpop" && !contains([for s in split(",", local.rest_base_source) : lower(trimspace(s))], "method.request.header.dpop")
  rest_identity_source = local.rest_needs_dpop ? "${local.rest_base_source},method.request.header.DPoP" : local.rest_base_source
  rest_ttl             = local.sender_constrained ? 0 : var.rest.result_ttl_seconds
  http_ttl             = local.sender_constrained ? 0 : var.http.result_ttl_seconds
  sender_problems = concat(!local.sender_constrained || (local.is_rest && var.rest.type == "REQUEST") || local.is_http ? [] : [
    "sender_constraint: ${local.sender_constraint}-bound tokens need the request's ${local.sender_constraint == "dpop" ? "DPoP header" : "client certificate"}, which ${local.is_websocket ? "a WebSocket authorizer" : "a REST TOKEN authorizer"} does not pass: ${local.is_websocket ? "WebSocket APIs have no mutual TLS, and their tokens cannot be bound" : "use rest.type REQUEST"}",
    ], var.sender_constraint == "none" || try(coalesce(var.handoff.sender_constraint, "none"), "none") == "none" || var.sender_constraint == try(var.handoff.sender_constraint, "none") ? [] : [
    "sender_constraint: ${var.sender_constraint}, but the hand-off says the tenant's tokens are ${var.handoff.sender_constraint}-bound: drop sender_constraint, the hand-off carries it",
  ])

  # HTTP API simple responses are cached per identity source for EVERY route: a decision
  # taken for GET /public would be replayed for DELETE /admin with the same token.
  # Adding $context.routeKey to the identity sources makes the cache key per route
  # (the safe default); a TTL of 0 disables the cache and needs no change.
  http_route_scoped     = local.simple_responses && local.http_ttl > 0
  http_needs_route_key  = local.http_route_scoped && !contains(var.http.identity_sources, "$context.routeKey")
  http_with_dpop        = local.sender_constraint == "dpop" && !contains([for s in var.http.identity_sources : lower(s)], "$request.header.dpop") ? concat(var.http.identity_sources, ["$request.header.DPoP"]) : var.http.identity_sources
  http_identity_sources = local.http_needs_route_key ? concat(local.http_with_dpop, ["$context.routeKey"]) : local.http_with_dpop

  cors_headers = var.cors == null ? {} : merge(
    {
      "gatewayresponse.header.Access-Control-Allow-Origin"  = "'${var.cors.allow_origin}'"
      "gatewayresponse.header.Access-Control-Allow-Headers" = "'${join(",", var.cors.allow_headers)}'"
      "gatewayresponse.header.Access-Control-Allow-Methods" = "'${join(",", var.cors.allow_methods)}'"
      # A browser script may read the 401's challenge (RFC 6750) only if it is exposed.
      "gatewayresponse.header.Access-Control-Expose-Headers" = "'WWW-Authenticate'"
    },
    var.cors.allow_origin == "*" ? {} : { "gatewayresponse.header.Vary" = "'Origin'" },
    var.cors.allow_credentials ? { "gatewayresponse.header.Access-Control-Allow-Credentials" = "'true'" } : {},
  )

  gateway_responses = local.is_rest && var.manage_gateway_responses ? {
    UNAUTHORIZED = {
      status  = "401"
      headers = merge(local.cors_headers, { "gatewayresponse.header.WWW-Authenticate" = "'Bearer'" })
    }
    ACCESS_DENIED                  = { status = "403", headers = local.cors_headers }
    AUTHORIZER_FAILURE             = { status = "500", headers = local.cors_headers }
    AUTHORIZER_CONFIGURATION_ERROR = { status = "500", headers = local.cors_headers }
    # Every other 4XX and 5XX API Gateway answers by itself (a missing route, a throttle,
    # an integration timeout) keeps its status and gets the same headers, so a browser
    # sees the error instead of an opaque CORS failure.
    DEFAULT_4XX = { status = null, headers = local.cors_headers }
    DEFAULT_5XX = { status = null, headers = local.cors_headers }
  } : {}
}

resource "aws_api_gateway_authorizer" "this" {
  count = local.is_rest ? 1 : 0

  lifecycle {
    precondition {
      condition     = length(local.handoff_problems) == 0
      error_message = join("\n", local.handoff_problems)
    }
    precondition {
      condition     = length(local.sender_problems) == 0
      error_message = join("\n", local.sender_problems)
    }
  }

  name                             = var.name
  rest_api_id                      = var.api.id
  type                             = var.rest.type
  authorizer_uri                   = local.authorizer_uri
  identity_source                  = local.rest_identity_source
  identity_validation_expression   = var.rest.identity_validation_expression
  authorizer_result_ttl_in_seconds = local.rest_ttl
}

resource "aws_api_gateway_gateway_response" "this" {
  for_each = local.gateway_responses

  rest_api_id         = var.api.id
  response_type       = each.key
  status_code         = each.value.status
  response_parameters = each.value.headers
  response_templates = {
    "application/json" = "{\"message\":$context.error.messageString}"
  }
}

resource "aws_apigatewayv2_authorizer" "http" {
  count = local.is_http ? 1 : 0

  lifecycle {
    precondition {
      condition     = length(local.handoff_problems) == 0
      error_message = join("\n", local.handoff_problems)
    }
    precondition {
      condition     = length(local.sender_problems) == 0
      error_message = join("\n", local.sender_problems)
    }
    precondition {
      condition     = length(local.http_problems) == 0
      error_message = join("\n", local.http_problems)
    }
  }

  api_id                            = var.api.id
  name                              = var.name
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = local.authorizer_uri
  authorizer_payload_format_version = var.http.payload_format_version
  enable_simple_responses           = var.http.payload_format_version == "2.0" ? local.simple_responses : null
  identity_sources                  = local.http_identity_sources
  authorizer_result_ttl_in_seconds  = local.http_ttl
}

resource "aws_apigatewayv2_authorizer" "websocket" {
  count = local.is_websocket ? 1 : 0

  lifecycle {
    precondition {
      condition     = length(local.handoff_problems) == 0
      error_message = join("\n", local.handoff_problems)
    }
    precondition {
      condition     = length(local.sender_problems) == 0
      error_message = join("\n", local.sender_problems)
    }
  }

  api_id           = var.api.id
  name             = var.name
  authorizer_type  = "REQUEST"
  authorizer_uri   = local.authorizer_uri
  identity_sources = var.websocket.identity_sources
}
