# The tenant-side authorizer for each API kind, its gateway responses, and one run per
# validation block.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { id = "eu-west-1" }
  }
}

variables {
  authorizer_function_arn = "arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017"
  api                     = { kind = "REST", id = "a1b2c3d4e5" }
}

run "rest_token_authorizer" {
  command = plan

  variables {
    cors = { allow_origin = "https://app.example.com" }
  }

  assert {
    condition     = aws_api_gateway_authorizer.this[0].type == "TOKEN" && aws_api_gateway_authorizer.this[0].identity_source == "method.request.header.Authorization"
    error_message = "The default REST authorizer is TOKEN on the Authorization header."
  }

  assert {
    condition     = aws_api_gateway_authorizer.this[0].authorizer_uri == "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017/invocations"
    error_message = "The authorizer URI must invoke the alias-qualified shared function."
  }

  assert {
    condition     = aws_api_gateway_authorizer.this[0].authorizer_credentials == null
    error_message = "No credentials: the platform's resource policy grants the invocation."
  }

  assert {
    condition     = toset(keys(aws_api_gateway_gateway_response.this)) == toset(["UNAUTHORIZED", "ACCESS_DENIED", "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR", "DEFAULT_4XX", "DEFAULT_5XX"])
    error_message = "REST APIs get 401, 403, both 500 gateway responses, and every other 4XX and 5XX."
  }

  assert {
    condition = alltrue([
      for r in aws_api_gateway_gateway_response.this :
      r.response_parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://app.example.com'" && r.response_parameters["gatewayresponse.header.Access-Control-Expose-Headers"] == "'WWW-Authenticate'"
    ])
    error_message = "Every gateway response (DEFAULT_4XX and DEFAULT_5XX too) carries the CORS origin and exposes WWW-Authenticate, so a browser can read the error."
  }

  assert {
    condition     = aws_api_gateway_gateway_response.this["DEFAULT_4XX"].status_code == null && aws_api_gateway_gateway_response.this["DEFAULT_5XX"].status_code == null
    error_message = "The default responses keep API Gateway's own status."
  }

  assert {
    condition     = aws_api_gateway_gateway_response.this["UNAUTHORIZED"].response_parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://app.example.com'" && aws_api_gateway_gateway_response.this["UNAUTHORIZED"].response_parameters["gatewayresponse.header.WWW-Authenticate"] == "'Bearer'"
    error_message = "A 401 carries the CORS origin and WWW-Authenticate: Bearer."
  }

  assert {
    condition     = aws_api_gateway_gateway_response.this["ACCESS_DENIED"].status_code == "403" && aws_api_gateway_gateway_response.this["ACCESS_DENIED"].response_parameters["gatewayresponse.header.Vary"] == "'Origin'"
    error_message = "A 403 carries the CORS headers (and Vary: Origin for a named origin)."
  }

  assert {
    condition     = length(aws_apigatewayv2_authorizer.http) == 0 && length(aws_apigatewayv2_authorizer.websocket) == 0
    error_message = "A REST API gets no v2 authorizer."
  }
}

run "rest_request_authorizer" {
  command = plan

  variables {
    rest = { type = "REQUEST", identity_source = "method.request.header.Authorization, context.stage", result_ttl_seconds = 0 }
  }

  assert {
    condition     = aws_api_gateway_authorizer.this[0].type == "REQUEST" && aws_api_gateway_authorizer.this[0].authorizer_result_ttl_in_seconds == 0
    error_message = "REQUEST type and TTL follow the variables."
  }

  assert {
    condition     = !contains(keys(aws_api_gateway_gateway_response.this["UNAUTHORIZED"].response_parameters), "gatewayresponse.header.Access-Control-Allow-Origin")
    error_message = "Without cors, no CORS header is added."
  }
}

# A binding answers IAM policies by default; the module once defaulted to simple
# responses, so default plus default failed every request. Now it asks.
run "an_http_api_must_say_which_answer_it_reads" {
  command = plan

  variables {
    api = { kind = "HTTP", id = "k1l2m3n4o5" }
  }

  expect_failures = [aws_apigatewayv2_authorizer.http]
}

run "http_simple_responses_are_cached_per_route" {
  command = plan

  variables {
    api  = { kind = "HTTP", id = "k1l2m3n4o5" }
    http = { enable_simple_responses = true }
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.http[0].identity_sources == toset(["$request.header.Authorization", "$context.routeKey"])
    error_message = "Cached simple responses must be keyed by route: $context.routeKey is added."
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.http[0].enable_simple_responses && aws_apigatewayv2_authorizer.http[0].authorizer_payload_format_version == "2.0"
    error_message = "Simple responses asked for: payload 2.0 with simple responses."
  }

  assert {
    condition     = length(aws_api_gateway_gateway_response.this) == 0
    error_message = "HTTP APIs have no gateway responses (CORS is on the API)."
  }
}

run "http_without_cache_needs_no_route_key" {
  command = plan

  variables {
    api  = { kind = "HTTP", id = "k1l2m3n4o5" }
    http = { result_ttl_seconds = 0, enable_simple_responses = true }
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.http[0].identity_sources == toset(["$request.header.Authorization"])
    error_message = "With TTL 0 nothing is cached and the identity sources stay as given."
  }
}

run "http_payload_1_iam_policies" {
  command = plan

  variables {
    api  = { kind = "HTTP", id = "k1l2m3n4o5" }
    http = { payload_format_version = "1.0", enable_simple_responses = false }
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.http[0].authorizer_payload_format_version == "1.0" && aws_apigatewayv2_authorizer.http[0].identity_sources == toset(["$request.header.Authorization"])
    error_message = "IAM-policy responses name every route, so no route key is needed."
  }
}

run "websocket_connect_authorizer" {
  command = plan

  variables {
    api       = { kind = "WEBSOCKET", id = "w1e2b3s4o5" }
    websocket = { identity_sources = ["route.request.querystring.token"] }
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.websocket[0].authorizer_type == "REQUEST" && aws_apigatewayv2_authorizer.websocket[0].identity_sources == toset(["route.request.querystring.token"])
    error_message = "WebSocket APIs get a REQUEST authorizer on the given identity sources."
  }
}

run "partition_aws_cn" {
  command = plan

  variables {
    authorizer_function_arn = "arn:aws-cn:lambda:cn-north-1:999999999999:function:tenant-authorizer:shard-001"
  }

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-cn" }
  }
  override_data {
    target = data.aws_region.current
    values = { id = "cn-north-1" }
  }

  assert {
    condition     = startswith(aws_api_gateway_authorizer.this[0].authorizer_uri, "arn:aws-cn:apigateway:cn-north-1:lambda:path/2015-03-31/functions/arn:aws-cn:lambda:")
    error_message = "The authorizer URI must use the aws-cn partition."
  }
}

run "partition_aws_us_gov" {
  command = plan

  variables {
    authorizer_function_arn = "arn:aws-us-gov:lambda:us-gov-west-1:999999999999:function:tenant-authorizer:shard-001"
  }

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-us-gov" }
  }
  override_data {
    target = data.aws_region.current
    values = { id = "us-gov-west-1" }
  }

  assert {
    condition     = startswith(aws_api_gateway_authorizer.this[0].authorizer_uri, "arn:aws-us-gov:apigateway:us-gov-west-1:lambda:")
    error_message = "The authorizer URI must use the aws-us-gov partition."
  }
}

run "name_is_valid" {
  command = plan
  variables {
    name = "no spaces allowed"
  }
  expect_failures = [var.name]
}

run "function_arn_must_be_alias_qualified" {
  command = plan
  variables {
    authorizer_function_arn = "arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer"
  }
  expect_failures = [var.authorizer_function_arn]
}

run "api_kind_is_known" {
  command = plan
  variables {
    api = { kind = "GRPC", id = "a1b2c3d4e5" }
  }
  expect_failures = [var.api]
}

run "api_id_is_an_api_gateway_id" {
  command = plan
  variables {
    api = { kind = "REST", id = "my-api" }
  }
  expect_failures = [var.api]
}

run "rest_type_is_token_or_request" {
  command = plan
  variables {
    rest = { type = "COGNITO_USER_POOLS" }
  }
  expect_failures = [var.rest]
}

run "rest_ttl_is_bounded" {
  command = plan
  variables {
    rest = { result_ttl_seconds = 7200 }
  }
  expect_failures = [var.rest]
}

run "validation_expression_is_token_only" {
  command = plan
  variables {
    rest = { type = "REQUEST", identity_validation_expression = "^Bearer .+$" }
  }
  expect_failures = [var.rest]
}

run "rest_identity_source_is_a_mapping_expression" {
  command = plan
  variables {
    rest = { type = "TOKEN", identity_source = "$request.header.Authorization" }
  }
  expect_failures = [var.rest]
}

run "http_payload_version_is_known" {
  command = plan
  variables {
    api  = { kind = "HTTP", id = "k1l2m3n4o5" }
    http = { payload_format_version = "3.0" }
  }
  expect_failures = [var.http]
}

run "simple_responses_need_payload_2" {
  command = plan
  variables {
    api  = { kind = "HTTP", id = "k1l2m3n4o5" }
    http = { payload_format_version = "1.0", enable_simple_responses = true }
  }
  expect_failures = [var.http]
}

run "http_ttl_is_bounded" {
  command = plan
  variables {
    api  = { kind = "HTTP", id = "k1l2m3n4o5" }
    http = { result_ttl_seconds = -1 }
  }
  expect_failures = [var.http]
}

run "http_identity_sources_are_selection_expressions" {
  command = plan
  variables {
    api  = { kind = "HTTP", id = "k1l2m3n4o5" }
    http = { identity_sources = ["method.request.header.Authorization"] }
  }
  expect_failures = [var.http]
}

run "websocket_identity_sources_are_route_expressions" {
  command = plan
  variables {
    api       = { kind = "WEBSOCKET", id = "w1e2b3s4o5" }
    websocket = { identity_sources = [] }
  }
  expect_failures = [var.websocket]
}

run "cors_origin_is_one_origin" {
  command = plan
  variables {
    cors = { allow_origin = "https://a.example.com, https://b.example.com" }
  }
  expect_failures = [var.cors]
}

run "cors_credentials_need_a_named_origin" {
  command = plan
  variables {
    cors = { allow_origin = "*", allow_credentials = true }
  }
  expect_failures = [var.cors]
}

# -- the platform's hand-off (terraform/tenants output handoffs): a mismatch is a plan error

run "a_matching_handoff_plans" {
  command = plan

  variables {
    authorizer_function_arn = null
    api                     = { kind = "HTTP", id = "k1l2m3n4o5" }
    handoff = {
      function_arn    = "arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017"
      authorizer_uri  = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017/invocations"
      region          = "eu-west-1"
      response_type   = "simple"
      identity_source = "header:Authorization"
    }
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.http[0].enable_simple_responses && aws_apigatewayv2_authorizer.http[0].authorizer_uri == var.handoff.authorizer_uri
    error_message = "The hand-off sets the URI and, unless told otherwise, the response type."
  }
}

run "a_handoff_of_another_region_is_refused" {
  command = plan

  variables {
    authorizer_function_arn = null
    handoff = {
      function_arn    = "arn:aws:lambda:us-east-1:999999999999:function:tenant-authorizer:shard-017"
      authorizer_uri  = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:999999999999:function:tenant-authorizer:shard-017/invocations"
      region          = "us-east-1"
      response_type   = "iam"
      identity_source = "header:Authorization"
    }
  }

  expect_failures = [aws_api_gateway_authorizer.this]
}

run "a_simple_handoff_on_an_iam_authorizer_is_refused" {
  command = plan

  variables {
    authorizer_function_arn = null
    api                     = { kind = "HTTP", id = "k1l2m3n4o5" }
    http                    = { enable_simple_responses = false }
    handoff = {
      function_arn    = "arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017"
      authorizer_uri  = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017/invocations"
      region          = "eu-west-1"
      response_type   = "simple"
      identity_source = "header:Authorization"
    }
  }

  expect_failures = [aws_apigatewayv2_authorizer.http]
}

run "a_handoff_whose_token_the_authorizer_never_reads_is_refused" {
  command = plan

  variables {
    authorizer_function_arn = null
    handoff = {
      function_arn    = "arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017"
      authorizer_uri  = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017/invocations"
      region          = "eu-west-1"
      response_type   = "iam"
      identity_source = "query:token"
    }
  }

  expect_failures = [aws_api_gateway_authorizer.this]
}

run "neither_handoff_nor_arn_is_refused" {
  command = plan

  variables {
    authorizer_function_arn = null
  }

  expect_failures = [var.authorizer_function_arn]
}

run "a_rest_token_authorizer_cannot_read_a_cookie_handoff" {
  command = plan

  variables {
    authorizer_function_arn = null
    rest                    = { type = "TOKEN", identity_source = "method.request.header.Cookie" }
    handoff = {
      function_arn    = "arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017"
      authorizer_uri  = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017/invocations"
      region          = "eu-west-1"
      response_type   = "iam"
      identity_source = "cookie:session"
    }
  }

  expect_failures = [aws_api_gateway_authorizer.this]
}

run "query_names_keep_their_case" {
  command = plan

  variables {
    authorizer_function_arn = null
    rest                    = { type = "REQUEST", identity_source = "method.request.querystring.token" }
    handoff = {
      function_arn    = "arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017"
      authorizer_uri  = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017/invocations"
      region          = "eu-west-1"
      response_type   = "iam"
      identity_source = "query:Token"
    }
  }

  expect_failures = [aws_api_gateway_authorizer.this]
}

run "a_request_authorizer_reads_a_query_handoff" {
  command = plan

  variables {
    authorizer_function_arn = null
    rest                    = { type = "REQUEST", identity_source = "method.request.querystring.token, context.stage" }
    handoff = {
      function_arn    = "arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017"
      authorizer_uri  = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017/invocations"
      region          = "eu-west-1"
      response_type   = "iam"
      identity_source = "query:token"
    }
  }

  assert {
    condition     = aws_api_gateway_authorizer.this[0].type == "REQUEST"
    error_message = "A REQUEST authorizer with the query parameter among its sources plans."
  }
}

# Sender-constrained tokens: the DPoP header becomes an identity source, the result
# cache is off (a proof is good for one request), and only REQUEST authorizers qualify.
run "dpop_bound_tokens_on_a_rest_request_authorizer" {
  command = plan

  variables {
    rest              = { type = "REQUEST", result_ttl_seconds = 300 }
    sender_constraint = "dpop"
  }

  assert {
    condition     = aws_api_gateway_authorizer.this[0].identity_source == "method.request.header.Authorization,method.request.header.DPoP"
    error_message = "A DPoP authorizer passes the DPoP header."
  }

  assert {
    condition     = aws_api_gateway_authorizer.this[0].authorizer_result_ttl_in_seconds == 0
    error_message = "Answers to sender-constrained tokens are never cached."
  }
}

run "mtls_bound_tokens_on_an_http_api" {
  command = plan

  variables {
    api               = { kind = "HTTP", id = "k1l2m3n4o5" }
    http              = { enable_simple_responses = false, result_ttl_seconds = 60 }
    sender_constraint = "mtls"
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.http[0].authorizer_result_ttl_in_seconds == 0 && aws_apigatewayv2_authorizer.http[0].identity_sources == toset(["$request.header.Authorization"])
    error_message = "An mTLS authorizer caches nothing and needs no extra identity source."
  }
}

run "sender_constrained_tokens_need_a_request_authorizer" {
  command = plan

  variables {
    sender_constraint = "dpop"
  }

  expect_failures = [aws_api_gateway_authorizer.this]
}

run "sender_constraint_is_one_of_three" {
  command = plan

  variables {
    sender_constraint = "bearer"
  }

  expect_failures = [var.sender_constraint]
}

# The hand-off says the tenant's tokens are bound: the module applies it by itself.
run "a_bound_handoff_turns_the_cache_off" {
  command = plan

  variables {
    authorizer_function_arn = null
    rest                    = { type = "REQUEST", identity_source = "method.request.header.Authorization,method.request.header.DPoP-Nonce" }
    handoff = {
      function_arn      = "arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017"
      authorizer_uri    = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017/invocations"
      region            = "eu-west-1"
      response_type     = "iam"
      identity_source   = "header:Authorization"
      sender_constraint = "dpop"
    }
  }

  assert {
    condition     = aws_api_gateway_authorizer.this[0].authorizer_result_ttl_in_seconds == 0
    error_message = "A hand-off of bound tokens turns the result cache off."
  }

  assert {
    condition     = aws_api_gateway_authorizer.this[0].identity_source == "method.request.header.Authorization,method.request.header.DPoP-Nonce,method.request.header.DPoP"
    error_message = "DPoP-Nonce is not the DPoP header: the DPoP header is still added."
  }
}

run "a_sender_constraint_that_contradicts_the_handoff_is_refused" {
  command = plan

  variables {
    authorizer_function_arn = null
    rest                    = { type = "REQUEST" }
    sender_constraint       = "mtls"
    handoff = {
      function_arn      = "arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017"
      authorizer_uri    = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:999999999999:function:tenant-authorizer:shard-017/invocations"
      region            = "eu-west-1"
      response_type     = "iam"
      identity_source   = "header:Authorization"
      sender_constraint = "dpop"
    }
  }

  expect_failures = [aws_api_gateway_authorizer.this]
}
