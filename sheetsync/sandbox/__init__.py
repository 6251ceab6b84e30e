"""A local WarmySender-compatible API for users, the demo, tests and benchmarks.

validate.py   body checks and `Refusal` (an API error answer)
prospects.py  the prospect object, create/update rules
campaigns.py  the campaign object, lifecycle and sending simulation
workspace.py  one workspace: mailboxes, lists, prospects, campaigns, enrollments
routes.py     /api/v1 routes, scopes and paging
service.py    Sandbox: auth, rate limit, idempotency, faults, /_sandbox/ admin
server.py     SandboxServer (HTTP) and `serve()` for `sheetsync sandbox`
seed.py       seed checks and `demo_seed()`
"""

from sheetsync.sandbox.faults import Faults
from sheetsync.sandbox.seed import DEMO_KEY, DEMO_READONLY_KEY, check_seed, demo_seed, load_seed
from sheetsync.sandbox.server import SandboxServer, serve
from sheetsync.sandbox.service import Reply, Sandbox

__all__ = [
    "DEMO_KEY",
    "DEMO_READONLY_KEY",
    "Faults",
    "Reply",
    "Sandbox",
    "SandboxServer",
    "check_seed",
    "demo_seed",
    "load_seed",
    "serve",
]
