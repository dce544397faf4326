"""``tenant-authz local``: the product on one laptop (``make run``), and its helpers.

``tenant-authz local`` starts the development issuer (:class:`DevIssuer`) and the local
API Gateway (:mod:`tenant_authorizer.dev.gateway`) emulating the chosen tenant's API, with
the real authorizer in-process over ``tenant_configs/`` (or SSM with ``--ssm``), prints
a banner with two ``curl`` lines that behave as it says, then one access line per
request until Ctrl-C. ``local token`` prints a token from the running development
issuer; ``local rotate`` rotates its keys.

Runtime modules are imported inside the commands, not at import time: ``tenant-authz
validate`` and ``package`` do not pay for the authorizer's imports.

One module per part: :mod:`.errors` (what the user can fix, with exit codes),
:mod:`.options` (what was asked, the emulated API), :mod:`.stack` (starting and
stopping it all, reloading tenant files), :mod:`.banner` (the curl lines that behave as
they say), :mod:`.commands` (the click group ``local``, ``local token``, ``local rotate``).
"""
