# An HTTP API with a payload 2.0 authorizer and simple responses ({"isAuthorized": ...};
# the binding's response: simple). A simple response is cached for every route of the
# API, so the module adds $context.routeKey to the identity sources when the TTL is
# above 0: see the identity_sources output.

resource "aws_apigatewayv2_api" "this" {
  name          = "payroll"
  protocol_type = "HTTP"

  cors_configuration {
    allow_origins  = ["https://payroll.initech.example"]
    allow_headers  = ["authorization", "content-type"]
    expose_headers = ["www-authenticate"]
    allow_methods  = ["GET", "POST", "PUT"]
  }
}

module "authorizer" {
  source = "../.."

  authorizer_function_arn = var.authorizer_function_arn
  api                     = { kind = "HTTP", id = aws_apigatewayv2_api.this.id }
  http = {
    payload_format_version  = "2.0"
    enable_simple_responses = true
    result_ttl_seconds      = 300
  }
}

resource "aws_apigatewayv2_route" "payroll" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /payroll/{id}"
  authorization_type = "CUSTOM"
  authorizer_id      = module.authorizer.authorizer_id
}

output "identity_sources" {
  description = "The identity sources in effect, $context.routeKey included."
  value       = module.authorizer.identity_sources
}
