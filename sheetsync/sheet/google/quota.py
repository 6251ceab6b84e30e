"""Google's per-credential quota, kept before each request rather than learnt from 429s: a
transport adapter that waits for a slot of the credential's read budget (GET) or write budget
(everything else) before every request to the Sheets API. `open_source(..., quota=wait)` mounts
it; the caller decides where the budget lives (the workers share theirs in PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import BaseAdapter

from sheetsync.sheet.google.source import GOOGLE_SHEETS_URL

# quota(credential, "read" | "write") returns once a request of that kind may start
Quota = Callable[[str, str], None]


class Metered(BaseAdapter):
    def __init__(self, inner: BaseAdapter, credential: str, quota: Quota) -> None:
        super().__init__()
        self.inner = inner
        self.credential = credential
        self.quota = quota

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        self.quota(self.credential, "read" if request.method == "GET" else "write")
        return self.inner.send(request, *args, **kwargs)

    def close(self) -> None:
        self.inner.close()


def meter(session: requests.Session, credential: str, quota: Quota) -> None:
    """Every request of `session` to the Sheets API waits for `quota` first."""
    prefix = GOOGLE_SHEETS_URL + "/"
    session.mount(prefix, Metered(session.get_adapter(prefix), credential, quota))
