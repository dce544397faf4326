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

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # Gateway responses and authorizers take effect only in a new deployment.
  triggers = {
    authorizer = module.authorizer.deployment_trigger
    method     = aws_api_gateway_integration.get.id
  }

  lifecycle {
    create_before_destroy = true
  }
}

output "authorizer_id" {
  description = "The REST API's authorizer."
  value       = module.authorizer.authorizer_id
}
