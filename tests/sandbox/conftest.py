"""A real sandbox on 127.0.0.1 with a FakeClock shared by the test, and plain httpx clients."""

from __future__ import annotations

import random
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sheetsync.clock import FakeClock
from sheetsync.sandbox import DEMO_KEY, DEMO_READONLY_KEY, Faults, Sandbox, SandboxServer

# One TLS context for every test client: building one per httpx.Client costs ~40 ms (CA load).
TLS = ssl.create_default_context()

STEPS = [
    {"stepIndex": 0, "subject": "Hi {{firstName}}", "bodyHtml": "<p>Hello</p>"},
    {"stepIndex": 1, "subject": "Following up", "bodyHtml": "<p>Again</p>", "delayDays": 3},
]


def campaign_body(**extra: Any) -> dict[str, Any]:
    return {"name": "Q1 outreach", "steps": STEPS, "mailboxIds": ["mbx_demo_1"], **extra}


class Env:
    """One running sandbox: `api` has the all-scopes key, `admin` talks to /_sandbox/."""

    def __init__(self, sandbox: Sandbox, server: SandboxServer, clock: FakeClock) -> None:
        self.sandbox = sandbox
        self.server = server
        self.clock = clock
        self.api = self.client(DEMO_KEY)
        self.admin = httpx.Client(base_url=server.root_url + "/_sandbox", verify=TLS)
        self._clients = [self.api, self.admin]

    def client(self, key: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = httpx.Client(base_url=self.server.base_url, headers=headers, verify=TLS)
        if hasattr(self, "_clients"):
            self._clients.append(client)
        return client

    def readonly(self) -> httpx.Client:
        return self.client(DEMO_READONLY_KEY)

    def state(self) -> dict[str, Any]:
        ws: dict[str, Any] = self.admin.get("/state").json()["workspaces"][0]
        return ws

    def create_campaign(self, **extra: Any) -> dict[str, Any]:
        response = self.api.post("/campaigns", json=campaign_body(**extra))
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.server.close()


def start_env(seed: dict[str, Any] | None = None, faults: Faults | None = None) -> Env:
    clock = FakeClock()
    sandbox = Sandbox(seed, clock=clock, faults=faults, rng=random.Random(7))
    server = SandboxServer(sandbox)
    server.start()
    return Env(sandbox, server, clock)


@pytest.fixture
def env() -> Iterator[Env]:
    e = start_env()
    yield e
    e.close()
