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

  authorizer_uri = "arn:${data.aws_partition.current.partition}:apigateway:${data.aws_region.current.id}:lambda:path/2015-03-31/functions/${var.authorizer_function_arn}/invocations"

  rest_identity_source = coalesce(var.rest.identity_source, "method.request.header.Authorization")

  # HTTP API simple responses are cached per identity source for EVERY route: a decision
  # taken for GET /public would be replayed for DELETE /admin with the same token.
  # Adding $context.routeKey to the identity sources makes the cache key per route
  # (the safe default); a TTL of 0 disables the cache and needs no change.
  http_route_scoped     = local.is_http && var.http.enable_simple_responses && var.http.result_ttl_seconds > 0
  http_needs_route_key  = local.http_route_scoped && !contains(var.http.identity_sources, "$context.routeKey")
  http_identity_sources = local.http_needs_route_key ? concat(var.http.identity_sources, ["$context.routeKey"]) : var.http.identity_sources

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

  name                             = var.name
  rest_api_id                      = var.api.id
  type                             = var.rest.type
  authorizer_uri                   = local.authorizer_uri
  identity_source                  = local.rest_identity_source
  identity_validation_expression   = var.rest.identity_validation_expression
  authorizer_result_ttl_in_seconds = var.rest.result_ttl_seconds
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

  api_id                            = var.api.id
  name                              = var.name
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = local.authorizer_uri
  authorizer_payload_format_version = var.http.payload_format_version
  enable_simple_responses           = var.http.payload_format_version == "2.0" ? var.http.enable_simple_responses : null
  identity_sources                  = local.http_identity_sources
  authorizer_result_ttl_in_seconds  = var.http.result_ttl_seconds
}

resource "aws_apigatewayv2_authorizer" "websocket" {
  count = local.is_websocket ? 1 : 0

  api_id           = var.api.id
  name             = var.name
  authorizer_type  = "REQUEST"
  authorizer_uri   = local.authorizer_uri
  identity_sources = var.websocket.identity_sources
}
