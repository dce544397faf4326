# The example planned: the browser's preflight passes (OPTIONS without the authorizer,
# answering CORS headers) and every error the browser can get carries them.

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

run "a_browser_preflight_and_errors_pass_cors" {
  command = plan

  assert {
    condition     = aws_api_gateway_method.options.http_method == "OPTIONS" && aws_api_gateway_method.options.authorization == "NONE" && aws_api_gateway_integration.options.type == "MOCK"
    error_message = "The preflight is answered by API Gateway, without the authorizer."
  }

  assert {
    condition     = aws_api_gateway_integration_response.options.response_parameters["method.response.header.Access-Control-Allow-Origin"] == "'*'" && strcontains(aws_api_gateway_integration_response.options.response_parameters["method.response.header.Access-Control-Allow-Headers"], "Authorization")
    error_message = "The preflight allows the origin and the Authorization header."
  }

  assert {
    condition     = toset(module.authorizer.gateway_response_types) == toset(["ACCESS_DENIED", "AUTHORIZER_CONFIGURATION_ERROR", "AUTHORIZER_FAILURE", "DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED"])
    error_message = "Every 4XX and 5XX the browser can get is a gateway response with CORS headers."
  }
}
