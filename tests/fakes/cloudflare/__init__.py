"""A local, stateful emulator of the Cloudflare v4 REST API, for tests.

There is no maintained Cloudflare emulator, so this one implements the
endpoints StackDock's adapter uses (token verify, zones, DNS records, Workers
scripts and workers.dev subdomains, R2 buckets, D1 databases) with Cloudflare's
envelope, paging, bearer-token auth and error shapes, and answers that parse
under the official SDK's strict response validation. Error codes follow
Cloudflare's where they are known.

In tests: ``CloudflareEmulator(port=0).start()``; standalone:
``python -m tests.fakes.cloudflare --port 8787 --token T --account A``.
"""

from __future__ import annotations

from .server import CloudflareEmulator
from .state import ALL_PERMISSIONS, PERMISSION_SCOPES, Injection, RecordedRequest, Token

__all__ = [
    "ALL_PERMISSIONS",
    "PERMISSION_SCOPES",
    "CloudflareEmulator",
    "Injection",
    "RecordedRequest",
    "Token",
]
