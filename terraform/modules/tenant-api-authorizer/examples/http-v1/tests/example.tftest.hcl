# The example planned: API Gateway answers the preflight itself (cors_configuration),
# before any authorizer, and exposes the 401's challenge.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { id = "us-east-1" }
  }
  mock_resource "aws_api_gateway_rest_api" {
    defaults = { id = "a1b2c3d4e5", root_resource_id = "r00t000000" }
  }
  mock_resource "aws_apigatewayv2_api" {
    defaults = { id = "h1t2t3p4a5" }
  }
}

run "a_browser_preflight_passes" {
  command = plan

  assert {
    condition     = contains(aws_apigatewayv2_api.this.cors_configuration[0].allow_headers, "authorization") && length(aws_apigatewayv2_api.this.cors_configuration[0].allow_origins) > 0
    error_message = "The preflight allows the origin and the Authorization header."
  }

  assert {
    condition     = contains(aws_apigatewayv2_api.this.cors_configuration[0].expose_headers, "www-authenticate")
    error_message = "A browser script can read WWW-Authenticate on a 401."
  }
}
