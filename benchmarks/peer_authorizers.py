"""The authorizers a user would pick instead of this project, as they would write them.

Only PyJWT (and Powertools) are imported here, so a fresh interpreter importing this
module pays what such an authorizer pays on a cold start (benchmarks/peers.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jwt

AUDIENCE = "https://api.example.test"


def pyjwt_authorizer(jwks_uri: str, issuer: str, sink: Any) -> Callable[[dict[str, Any]], Any]:
    """What a team writes with PyJWT: PyJWKClient (keys cached), jwt.decode, a policy."""
    client = jwt.PyJWKClient(jwks_uri, cache_keys=True)

    def handle(ev: dict[str, Any]) -> dict[str, Any]:
        token = ev["authorizationToken"].removeprefix("Bearer ")
        key = client.get_signing_key_from_jwt(token).key
        claims = jwt.decode(
            token, key, algorithms=["RS256", "ES256"], audience=AUDIENCE, issuer=issuer
        )
        sink(json.dumps({"decision": "allow", "sub": claims["sub"], "arn": ev["methodArn"]}))
        statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ev["methodArn"]}
        return {
            "principalId": claims["sub"],
            "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            "context": {"scope": claims.get("scope", "")},
        }

    return handle


def powertools_authorizer(
    jwks_uri: str, issuer: str, stream: Any
) -> Callable[[dict[str, Any]], Any]:
    """The same on AWS Lambda Powertools' data classes and Logger."""
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerResponse,
        APIGatewayAuthorizerTokenEvent,
    )

    logger = Logger(service="authorizer", stream=stream)
    client = jwt.PyJWKClient(jwks_uri, cache_keys=True)

    def handle(raw: dict[str, Any]) -> dict[str, Any]:
        ev = APIGatewayAuthorizerTokenEvent(raw)
        token = ev.authorization_token.removeprefix("Bearer ")
        key = client.get_signing_key_from_jwt(token).key
        claims = jwt.decode(
            token, key, algorithms=["RS256", "ES256"], audience=AUDIENCE, issuer=issuer
        )
        arn = ev.parsed_arn
        policy = APIGatewayAuthorizerResponse(
            principal_id=claims["sub"],
            region=arn.region,
            aws_account_id=arn.aws_account_id,
            api_id=arn.api_id,
            stage=arn.stage,
            context={"scope": claims.get("scope", "")},
        )
        policy.allow_route(http_method=arn.http_method or "*", resource=arn.resource)
        logger.info("allow", sub=claims["sub"])
        return policy.asdict()

    return handle
