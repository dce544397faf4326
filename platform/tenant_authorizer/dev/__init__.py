"""``make run``: the local API Gateway, the development issuer and the local tenant sources.

Modules here may import ``tenant_authorizer.runtime`` and ``tenant_authorizer.tools``.
"""
