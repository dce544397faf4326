# A REST API with a REQUEST authorizer (seed 002): the authorizer sees headers, query
# string, stage variables and context. The identity sources are the cache key: with the
# stage in it, a cached policy is never reused across stages.

resource "aws_api_gateway_rest_api" "this" {
  name = "rest-samples"

  lifecycle {
    create_before_destroy = true
  }
}

module "authorizer" {
  source = "../.."

  authorizer_function_arn = var.authorizer_function_arn
  api                     = { kind = "REST", id = aws_api_gateway_rest_api.this.id }
  rest = {
    type               = "REQUEST"
    identity_source    = "method.request.header.Authorization, context.stage"
    result_ttl_seconds = 300
  }
  cors = { allow_origin = "*" }
}

resource "aws_api_gateway_resource" "samples" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "samples"
}

resource "aws_api_gateway_method" "get" {
  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.samples.id
  http_method          = "GET"
  authorization        = "CUSTOM"
  authorizer_id        = module.authorizer.authorizer_id
  request_validator_id = aws_api_gateway_request_validator.this.id
}

resource "aws_api_gateway_request_validator" "this" {
  rest_api_id                 = aws_api_gateway_rest_api.this.id
  name                        = "parameters"
  validate_request_parameters = true
}

# The browser's preflight: OPTIONS answered by API Gateway itself (MOCK), without the
# authorizer (browsers send no credentials with a preflight).
resource "aws_api_gateway_method" "options" {
  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.samples.id
  http_method          = "OPTIONS"
  authorization        = "NONE"
  request_validator_id = aws_api_gateway_request_validator.this.id
}

resource "aws_api_gateway_integration" "options" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.samples.id
  http_method = aws_api_gateway_method.options.http_method
  type        = "MOCK"
  request_templates = {
    "application/json" = "{\"statusCode\": 204}"
  }
}

resource "aws_api_gateway_method_response" "options" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.samples.id
  http_method = aws_api_gateway_method.options.http_method
  status_code = "204"
  response_parameters = {
    "method.response.header.Access-Control-Allow-Origin"  = true
    "method.response.header.Access-Control-Allow-Headers" = true
    "method.response.header.Access-Control-Allow-Methods" = true
    "method.response.header.Access-Control-Max-Age"       = true
  }
}

resource "aws_api_gateway_integration_response" "options" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.samples.id
  http_method = aws_api_gateway_method.options.http_method
  status_code = aws_api_gateway_method_response.options.status_code
  response_parameters = {
    "method.response.header.Access-Control-Allow-Origin"  = "'*'"
    "method.response.header.Access-Control-Allow-Headers" = "'Authorization,Content-Type'"
    "method.response.header.Access-Control-Allow-Methods" = "'GET,OPTIONS'"
    "method.response.header.Access-Control-Max-Age"       = "'600'"
  }

  depends_on = [aws_api_gateway_integration.options]
}

output "authorizer_id" {
  description = "The REST API's authorizer."
  value       = module.authorizer.authorizer_id
}
