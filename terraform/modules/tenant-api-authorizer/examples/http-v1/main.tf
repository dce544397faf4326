# An HTTP API with a payload 1.0 authorizer answered with IAM policies (the binding's
# response: iam). The policy names every route the caller may use, so caching it per
# token is safe. CORS for HTTP APIs is set on the API itself: API Gateway then answers
# preflights and adds the headers to every response, authorizer 401/403 included.

resource "aws_apigatewayv2_api" "this" {
  name          = "orders-v1"
  protocol_type = "HTTP"

  cors_configuration {
    allow_origins  = ["https://app.acme.example"]
    allow_headers  = ["authorization", "content-type"]
    expose_headers = ["www-authenticate"]
    allow_methods  = ["GET", "POST"]
  }
}

module "authorizer" {
  source = "../.."

  authorizer_function_arn = var.authorizer_function_arn
  api                     = { kind = "HTTP", id = aws_apigatewayv2_api.this.id }
  http = {
    payload_format_version  = "1.0"
    enable_simple_responses = false
    identity_sources        = ["$request.header.Authorization"]
    result_ttl_seconds      = 300
  }
}

output "authorizer_id" {
  description = "The HTTP API's authorizer."
  value       = module.authorizer.authorizer_id
}
