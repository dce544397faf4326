# A WebSocket API: only $connect is authorized (REQUEST authorizer); browsers cannot set
# headers on a WebSocket handshake, so the token comes in the query string here.

resource "aws_apigatewayv2_api" "this" {
  name                       = "notifications"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

module "authorizer" {
  source = "../.."

  authorizer_function_arn = var.authorizer_function_arn
  api                     = { kind = "WEBSOCKET", id = aws_apigatewayv2_api.this.id }
  websocket = {
    identity_sources = ["route.request.querystring.token"]
  }
}

resource "aws_apigatewayv2_route" "connect" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "$connect"
  authorization_type = "CUSTOM"
  authorizer_id      = module.authorizer.authorizer_id
}

output "authorizer_id" {
  description = "The WebSocket API's authorizer."
  value       = module.authorizer.authorizer_id
}
