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

output "authorizer_id" {
  description = "The REST API's authorizer."
  value       = module.authorizer.authorizer_id
}
