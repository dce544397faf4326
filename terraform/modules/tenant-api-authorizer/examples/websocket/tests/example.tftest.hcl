# The example planned: a $connect route behind the REQUEST authorizer.

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

run "connect_is_authorized" {
  command = plan

  assert {
    condition     = aws_apigatewayv2_route.connect.route_key == "$connect" && aws_apigatewayv2_route.connect.authorization_type == "CUSTOM"
    error_message = "$connect runs the shared authorizer."
  }
}
