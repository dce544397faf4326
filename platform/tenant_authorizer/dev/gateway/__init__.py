"""The local API Gateway: a request goes through the same steps as in AWS, in-process.

For each HTTP request, :class:`Gateway` does what API Gateway does for a method that
has a Lambda authorizer, in this order:

1. reads the identity sources; a missing or empty one answers 401 without calling the
   authorizer (for REST TOKEN, the ``identityValidationExpression`` applies too);
2. looks the identity-source values up in the authorizer result cache (per value,
   ``ttl`` seconds, 0 disables);
3. on a miss, builds the event of the API kind (REST TOKEN, REST REQUEST, HTTP API
   payload 1.0 or 2.0) with the request's method ARN and calls
   :meth:`Authorizer.evaluate` in-process; 401 and 500 answers are not cached;
4. enforces the answer: the IAM policy is evaluated against *this* request's method
   ARN (:mod:`.iam`) -- also when it came from the cache, which is what
   makes a policy's cache-safety visible -- or, for HTTP API simple responses,
   ``isAuthorized``; a malformed answer is a 500;
5. passes an allowed request to the upstream: the built-in echo or an HTTP URL.

The emulated API is one API of one account (:class:`ApiSpec`); its paths are served
without the stage prefix, as behind a custom domain. :class:`GatewayServer` serves a
Gateway over HTTP on 127.0.0.1 (stdlib ``ThreadingHTTPServer``). Every request produces
one :class:`AccessRecord`; tokens appear in none.
One module per part: :mod:`.api` (the emulated API), :mod:`.messages` (requests,
responses, refusals, access records), :mod:`.events` (the authorizer events),
:mod:`.iam` (policy evaluation), :mod:`.gateway` (the request path and its cache),
:mod:`.upstreams` (echo and proxy), :mod:`.server` (HTTP).
"""

from .api import API_KINDS, PLACEHOLDER_API_ID, PLACEHOLDER_STAGE, ApiKind, ApiSpec, IdentitySource
from .events import build_event, identity_values
from .gateway import AnswerInvalid, Gateway
from .messages import AccessRecord, Authorized, Request, Response, Upstream, UpstreamFailed
from .server import GatewayServer
from .upstreams import EchoUpstream, ProxyUpstream, authorizer_headers

__all__ = [
    "API_KINDS",
    "PLACEHOLDER_API_ID",
    "PLACEHOLDER_STAGE",
    "AccessRecord",
    "AnswerInvalid",
    "ApiKind",
    "ApiSpec",
    "Authorized",
    "EchoUpstream",
    "Gateway",
    "GatewayServer",
    "IdentitySource",
    "ProxyUpstream",
    "Request",
    "Response",
    "Upstream",
    "UpstreamFailed",
    "authorizer_headers",
    "build_event",
    "identity_values",
]
