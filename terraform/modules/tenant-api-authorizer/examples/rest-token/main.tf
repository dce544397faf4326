# A REST API whose GET /customers is protected by a TOKEN authorizer on the
# Authorization header (seed 000), with CORS-friendly 401/403 responses.

resource "aws_api_gateway_rest_api" "this" {
  name = "customers"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "customers" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "customers"
}

module "authorizer" {
  source = "../.."

  authorizer_function_arn = var.authorizer_function_arn
  api                     = { kind = "REST", id = aws_api_gateway_rest_api.this.id }
  rest = {
    type               = "TOKEN"
    identity_source    = "method.request.header.Authorization"
    result_ttl_seconds = 300
    # API Gateway refuses (401) anything that is not "Bearer <JWT>" without a Lambda call.
    identity_validation_expression = "^Bearer [-0-9A-Za-z_]+\\.[-0-9A-Za-z_]+\\.[-0-9A-Za-z_]+$"
  }
  cors = { allow_origin = "https://app.customers-api.example" }
}

resource "aws_api_gateway_request_validator" "this" {
  rest_api_id                 = aws_api_gateway_rest_api.this.id
  name                        = "parameters"
  validate_request_parameters = true
}

resource "aws_api_gateway_method" "get" {
  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.customers.id
  http_method          = "GET"
  authorization        = "CUSTOM"
  authorizer_id        = module.authorizer.authorizer_id
  request_validator_id = aws_api_gateway_request_validator.this.id
}

resource "aws_api_gateway_integration" "get" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.customers.id
  http_method = aws_api_gateway_method.get.http_method
  type        = "MOCK"
  request_templates = {
    "application/json" = "{\"statusCode\": 200}"
  }
}

# The browser's preflight: OPTIONS answered by API Gateway itself (MOCK), without the
# authorizer (browsers send no credentials with a preflight).
resource "aws_api_gateway_method" "options" {
  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.customers.id
  http_method          = "OPTIONS"
  authorization        = "NONE"
  request_validator_id = aws_api_gateway_request_validator.this.id
}

resource "aws_api_gateway_integration" "options" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.customers.id
  http_method = aws_api_gateway_method.options.http_method
  type        = "MOCK"
  request_templates = {
    "application/json" = "{\"statusCode\": 204}"
  }
}

resource "aws_api_gateway_method_response" "options" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.customers.id
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
  resource_id = aws_api_gateway_resource.customers.id
  http_method = aws_api_gateway_method.options.http_method
  status_code = aws_api_gateway_method_response.options.status_code
  response_parameters = {
    "method.response.header.Access-Control-Allow-Origin"  = "'https://app.customers-api.example'"
    "method.response.header.Access-Control-Allow-Headers" = "'Authorization,Content-Type'"
    "method.response.header.Access-Control-Allow-Methods" = "'GET,OPTIONS'"
    "method.response.header.Access-Control-Max-Age"       = "'600'"
  }

  depends_on = [aws_api_gateway_integration.options]
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # Gateway responses and authorizers take effect only in a new deployment.
  triggers = {
    authorizer = module.authorizer.deployment_trigger
    method     = aws_api_gateway_integration.get.id
    preflight  = aws_api_gateway_integration_response.options.id
  }

  lifecycle {
    create_before_destroy = true
  }
}

output "authorizer_id" {
  description = "The REST API's authorizer."
  value       = module.authorizer.authorizer_id
}
