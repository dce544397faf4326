"""Identifiers shared by events and tenant configs: HTTP methods, JWT algorithms, patterns.

The warm path needs these without the tenant-config parser (:mod:`.tenant_parser`),
which is imported only when a document is parsed. :mod:`.tenant_fields` re-exports the
sets; it and :mod:`.caller` compile the same patterns, so tenant files and ``methodArn``
agree.
"""

from __future__ import annotations

from typing import Final

# The methods API Gateway puts in a methodArn, and a rule's "*" expands to (rules).
REQUEST_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ASYMMETRIC_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
HMAC_ALGORITHMS: Final = frozenset({"HS256", "HS384", "HS512"})
ACCOUNT_ID_PATTERN: Final = r"^[0-9]{12}$"
STAGE_PATTERN: Final = r"^(\$default|[A-Za-z0-9_-]{1,128})$"
# An API key made by `tenant-authz api-key new` reads tak_<id>_<secret>; the id holds no
# "_", which separates it from the secret (decision 0027).
API_KEY_PREFIX: Final = "tak_"
API_KEY_ID_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,31}$"
