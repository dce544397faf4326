"""What the Lambda function runs, and nothing else: the zip carries this folder.

No module here imports ``tenant_authorizer.tools``, ``tenant_authorizer.dev``, click,
YAML or jsonschema (``tests/test_boundaries.py``).
"""
