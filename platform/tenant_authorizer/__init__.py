"""tenant-authorizer: one API Gateway Lambda authorizer for many accounts and issuers."""

__version__ = "0.1.0"
