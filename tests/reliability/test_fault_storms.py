"""Fault storms: the sandbox answering 30% 5xx, losing 30% of its answers after doing the work,
429 bursts with latency, and the Sheets emulator answering 429 quota errors and 500s on reads
and writes. Every storm converges within MAX_POLLS polls to the end state of a fault-free run,
with nothing created or enrolled twice. Everything runs on one FakeClock (retry waits, latency,
quota windows and Retry-After pass on it, not in real time).
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sheetsync.clock import FakeClock
from sheetsync.errors import SheetsyncError
from sheetsync.sandbox import Faults, Sandbox, SandboxServer
from sheetsync.testing.sheets_emulator import SheetsEmulator
from tests.engine.conftest import TOKEN, Harness, default_tabs, seed

MAX_POLLS = 12  # the bound: a storm that needs more polls than this fails the test
PEOPLE = 12
VOLATILE = {"Synced At", "Prospect ID", "Campaign ID"}
TABS = ("Prospects", "Campaigns", "Steps", "Enrollments")


@contextmanager
def environment(tmp_path: Path, kind: str, rng_seed: int) -> Iterator[Harness]:
    """A fresh sandbox (seeded rng), its server, and the sheet on `kind` (xlsx or google)."""
    clock = FakeClock()
    sandbox = Sandbox(seed(rate=600), clock=clock, faults=Faults(), rng=random.Random(rng_seed))
    emu = None
    with SandboxServer(sandbox) as server:
        if kind == "google":
            emu = SheetsEmulator(clock=clock, tokens={TOKEN}, read_quota_per_min=10_000)
            emu.write_quota_per_min = 10_000
            emu.start()
        h = Harness(tmp_path, clock, sandbox, server, emu, kind)
        h.make(default_tabs(PEOPLE))
        try:
            yield h
        finally:
            h.restart()
            if emu is not None:
                emu.close()


def end_state(h: Harness) -> dict[str, Any]:
    """The sheet without times and ids, and WarmySender by email and name."""
    ws = h.ws()
    by_id = {p["id"]: p["email"] for p in ws["prospects"]}
    return {
        "sheet": {
            tab: [{k: v for k, v in r.items() if k not in VOLATILE} for r in h.table(tab)]
            for tab in TABS
        },
        "prospects": Counter(p["email"] for p in ws["prospects"]),
        "campaigns": Counter(c["name"] for c in ws["campaigns"]),
        "enrollments": {
            c["name"]: Counter(by_id[e["prospectId"]] for e in c["enrollments"])
            for c in ws["campaigns"]
        },
        "running": sorted(c["name"] for c in ws["campaigns"] if c["status"] == "running"),
    }


def cost(h: Harness) -> tuple[int, int]:
    """(API requests the sandbox answered, requests the Sheets emulator answered)."""
    sheets = sum(h.emu.counts.values()) if h.emu is not None else 0
    return int(h.ws()["requests"]), sheets


def settled(h: Harness) -> bool:
    """Nothing left to do: no open intents, no waiting rows, an empty dry run (asked with the
    faults switched off for that one look)."""
    assert h.ss is not None
    if h.ss.state.pending_intents("test"):
        return False
    if h.ss.state.statuses("test", "waiting:"):
        return False
    faults, h.sandbox.faults = h.sandbox.faults, Faults()
    emu_faults = None
    if h.emu is not None:
        emu_faults, h.emu._faults = h.emu._faults, {}
    try:
        dry = h.ss.plan()
    finally:
        h.sandbox.faults = faults
        if h.emu is not None and emu_faults is not None:
            h.emu._faults = emu_faults
    return not [a for a in dry.plan.actions if a.kind not in ("monitor", "want")]


def storm(h: Harness, arm: Callable[[Harness, int], None]) -> tuple[int, int]:
    """Poll under the storm until settled: (polls it took, polls that failed outright)."""
    failed = 0
    for n in range(1, MAX_POLLS + 1):
        arm(h, n)
        try:
            h.poll()
        except SheetsyncError as exc:
            assert exc.exit_code == 3, exc  # a service problem, never a row or config error
            failed += 1
            h.restart()  # the daemon opens a fresh engine for the next cycle
            continue
        if settled(h):
            return n, failed
    pytest.fail(f"not settled after {MAX_POLLS} polls")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The end state of a fault-free run, per source."""
    out = {}
    for kind in ("xlsx", "google"):
        with environment(tmp_path_factory.mktemp(kind), kind, 0) as h:
            polls, failed = storm(h, lambda h, n: None)
            assert (polls, failed) == (1, 0)
            out[kind] = end_state(h)
            out[kind]["cost"] = cost(h)
    state = out["xlsx"]
    assert sum(state["prospects"][f"p{i}@example.com"] for i in range(PEOPLE)) == PEOPLE
    assert state["running"] == ["Q1 Launch"]
    assert sum(state["enrollments"]["Q1 Launch"].values()) == PEOPLE
    return out


def sandbox_faults(faults: Faults, *, bursts: int = 0) -> Callable[[Harness, int], None]:
    """Set `faults` for the whole storm; with `bursts`, a burst of that many 429s (each with
    Retry-After up to the 60-second window's end) starts each of the first three polls."""

    def arm(h: Harness, n: int) -> None:
        if n == 1:
            h.sandbox.faults = dataclasses.replace(faults)
        if bursts and n <= 3:
            h.sandbox.faults.burst_429 = bursts

    return arm


SANDBOX_STORMS = {
    "5xx-30%": sandbox_faults(Faults(error_rate=0.3)),
    "lost-answers-30%": sandbox_faults(Faults(drop_rate=0.3)),
    "429-bursts-and-latency": sandbox_faults(Faults(latency_ms=750), bursts=3),
    "all-at-once": sandbox_faults(Faults(error_rate=0.2, drop_rate=0.2, latency_ms=200)),
    # past the client's retry budget: calls fail outright, intents stay open across polls
    "5xx-60%-lost-30%": sandbox_faults(Faults(error_rate=0.6, drop_rate=0.3)),
    # 4 s answers: a 60 s poll fits about 15 calls, the rest is deferred to the next polls
    "slow-4s-answers": sandbox_faults(Faults(latency_ms=4000)),
}


@pytest.mark.parametrize("rng_seed", [1, 2, 3])
@pytest.mark.parametrize("name", list(SANDBOX_STORMS))
def test_sandbox_storm_converges_to_the_fault_free_end_state(
    tmp_path: Path, clean: dict[str, dict[str, Any]], name: str, rng_seed: int
) -> None:
    with environment(tmp_path, "xlsx", rng_seed) as h:
        polls, failed = storm(h, SANDBOX_STORMS[name])
        assert {**end_state(h), "cost": clean["xlsx"]["cost"]} == clean["xlsx"], name
        if name == "slow-4s-answers":
            assert polls > 1  # the work did not fit one poll: deferred, then done
            assert h.ss is not None and h.ss.state.recent_runs("test", 9)[-1].report["deferred"]
        else:
            assert cost(h)[0] > clean["xlsx"]["cost"][0]  # the storm hit: calls were repeated
        writes = h.ws()["requests"]
        h.sandbox.faults = Faults()
        h.poll()  # settled means settled: the next quiet poll sends nothing
        assert h.ws()["requests"] - writes <= 1  # at most the monitoring GET
        print(f"{name} seed {rng_seed}: settled in {polls} polls ({failed} failed)")


def emulator_faults(h: Harness, n: int) -> None:
    """Tight per-minute quotas (429 RATE_LIMIT_EXCEEDED) and injected 500s/503s on reads and
    writes, renewed at each of the first three polls."""
    assert h.emu is not None
    h.emu.read_quota_per_min = 2
    h.emu.write_quota_per_min = 1
    if n <= 3:
        h.emu.fail_next("values.batchGet", 500, 2)
        h.emu.fail_next("values.batchUpdate", 503, 2)
        h.emu.fail_next("*", 500, 1)
        h.emu.fail_next("values.batchUpdate", 429, 1)


def test_sheets_storm_converges_to_the_fault_free_end_state(
    tmp_path: Path, clean: dict[str, dict[str, Any]]
) -> None:
    with environment(tmp_path, "google", 0) as h:
        polls, failed = storm(h, emulator_faults)
        assert {**end_state(h), "cost": clean["google"]["cost"]} == clean["google"]
        assert cost(h)[1] > clean["google"]["cost"][1] + 6  # every injected fault was retried
        print(f"sheets storm: settled in {polls} polls ({failed} failed)")


def test_both_storms_at_once_on_google(tmp_path: Path, clean: dict[str, dict[str, Any]]) -> None:
    arm_api = sandbox_faults(Faults(error_rate=0.25, drop_rate=0.25, latency_ms=100))

    def arm(h: Harness, n: int) -> None:
        arm_api(h, n)
        emulator_faults(h, n)

    with environment(tmp_path, "google", 7) as h:
        polls, failed = storm(h, arm)
        assert {**end_state(h), "cost": clean["google"]["cost"]} == clean["google"]
        api, sheets = cost(h)
        assert api > clean["google"]["cost"][0] and sheets > clean["google"]["cost"][1]
        print(f"both storms: settled in {polls} polls ({failed} failed)")
