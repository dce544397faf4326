"""The platform team's commands: tenant-file validation, SSM document rendering, packaging.

Modules here import ``tenant_authorizer.runtime``, never ``tenant_authorizer.dev``.
"""
