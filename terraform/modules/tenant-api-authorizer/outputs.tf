output "authorizer_id" {
  description = "Id of the authorizer: set it as authorizer_id on the routes or methods it protects (authorization = CUSTOM)."
  value       = one(concat(aws_api_gateway_authorizer.this[*].id, aws_apigatewayv2_authorizer.http[*].id, aws_apigatewayv2_authorizer.websocket[*].id))
}

output "authorizer_uri" {
  description = "The invoke URI of the shared authorizer used by this API."
  value       = local.authorizer_uri
}

output "identity_sources" {
  description = "The identity sources in effect (HTTP APIs with simple responses and caching get $context.routeKey added)."
  value       = local.is_rest ? [local.rest_identity_source] : (local.is_http ? local.http_identity_sources : var.websocket.identity_sources)
}

output "gateway_response_types" {
  description = "Gateway responses this module manages (REST APIs only)."
  value       = sort(keys(aws_api_gateway_gateway_response.this))
}

output "deployment_trigger" {
  description = "Changes whenever the authorizer or its gateway responses change: add it to aws_api_gateway_deployment.triggers so a REST stage picks them up."
  value = sha1(jsonencode({
    uri       = local.authorizer_uri
    rest      = var.rest
    responses = local.gateway_responses
  }))
}
