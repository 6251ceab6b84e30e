"""Seed checks, demo_seed, `sheetsync sandbox --help`, and serve() startup (good and bad)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.errors import ConfigError
from sheetsync.sandbox import DEMO_KEY, check_seed, demo_seed, load_seed, serve


def test_demo_seed_has_what_the_demo_needs() -> None:
    ws = check_seed(demo_seed())["workspaces"][0]
    boxes = ws["mailboxes"]
    assert len(boxes) == 3
    assert sum(1 for m in boxes if m["connected"] and m["sendingEnabled"]) == 2
    assert sum(1 for m in boxes if not m["connected"]) == 1
    statuses = {p["status"] for p in ws["prospects"]}
    assert {"active", "bounced", "unsubscribed"} <= statuses
    assert len(ws["lists"]) == 1
    key = next(k for k in ws["apiKeys"] if k["key"] == DEMO_KEY)
    assert "enrollments:write" in key["scopes"] and "campaigns:write" in key["scopes"]


def _seed_with(**changes: Any) -> dict[str, Any]:
    seed = demo_seed()
    seed["workspaces"][0].update(changes)
    return seed


@pytest.mark.parametrize(
    ("seed", "where"),
    [
        ({"nope": []}, "workspaces"),
        ({"workspaces": []}, "workspaces"),
        (_seed_with(id=""), "workspaces[0].id"),
        (_seed_with(rateLimitPerMinute=0), "rateLimitPerMinute"),
        (_seed_with(subscriptionActive="yes"), "subscriptionActive"),
        (_seed_with(apiKeys=[{"key": "short", "scopes": []}]), "apiKeys[0].key"),
        (_seed_with(apiKeys=[{"key": "wsk_long_enough", "scopes": ["all"]}]), "scopes"),
        (_seed_with(mailboxes=[{"id": "m", "email": "nope"}]), "mailboxes[0].email"),
        (_seed_with(prospects=[{"email": "x@y.co", "status": "gone"}]), "prospects[0].status"),
        (_seed_with(prospects=[{"email": "bad"}]), "prospects[0]"),
        (_seed_with(prospects=[{"email": "a@b.co"}, {"email": "A@b.co"}]), "prospects[1].email"),
        (_seed_with(lists=[{"id": "l", "emails": ["who@x.co"]}]), "lists[0].emails"),
    ],
)
def test_bad_seeds_name_the_field(seed: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_seed(seed, source="seed.json")
    assert str(info.value).startswith("seed.json: ")
    assert where in str(info.value)


def test_load_seed_reports_bad_json_with_position(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text('{"workspaces": [', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_seed(path)
    assert str(path) in str(info.value) and "line 1" in str(info.value)


def test_load_seed_round_trips_a_file(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(demo_seed()), encoding="utf-8")
    assert load_seed(path)["workspaces"][0]["id"] == "ws_demo"


def test_sandbox_help_lists_its_options() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--seed", "--rate-limit", "--latency-ms", "--error-rate",
                   "--drop-rate"):  # fmt: skip
        assert option in result.output


@pytest.mark.parametrize(
    ("content", "needle"),
    [(None, "cannot read the seed file"), ("{", "not valid JSON"),
     ('{"workspaces": [{"id": "w", "apiKeys": [{"key": 1}]}]}', "apiKeys[0].key")],
)  # fmt: skip
def test_cli_bad_seed_file_exits_2_with_one_line(
    tmp_path: Path, content: str | None, needle: str
) -> None:
    path = tmp_path / "seed.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(cli, ["sandbox", "--port", "0", "--seed", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and needle in result.output
    assert str(path) in result.output
    assert "Traceback" not in result.output


def test_serve_raises_config_error_for_a_bad_seed(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text('{"workspaces": "no"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="workspaces"):
        serve(0, str(path), None, 0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--error-rate", "1.5"], "--error-rate"), (["--rate-limit", "0"], "--rate-limit"),
     (["--latency-ms", "-5"], "--latency-ms")],
)  # fmt: skip
def test_cli_bad_knobs_exit_2(args: list[str], needle: str) -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--port", "0", *args])
    assert result.exit_code == 2 and needle in result.output


def test_cli_port_in_use_exits_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["sandbox", "--port", str(port)])
    assert result.exit_code == 2
    assert "--port" in result.output and "pick another" in result.output


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_prints_url_and_keys_and_stops_cleanly(stop: signal.Signals) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sheetsync", "sandbox", "--port", "0", "--rate-limit", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("WarmySender sandbox at http://127.0.0.1:")
        base_url = first.split(" at ", 1)[1].strip()
        lines = [proc.stdout.readline() for _ in range(4)]
        assert "(5 requests/min)" in lines[0]
        assert DEMO_KEY in lines[1]
        me = httpx.get(base_url + "/me", headers={"Authorization": f"Bearer {DEMO_KEY}"})
        assert me.status_code == 200 and me.headers["X-RateLimit-Limit"] == "5"
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "sandbox stopped." in out
        assert "Traceback" not in err
        assert "GET /me -> 200" in err  # the request log: route and status only
        assert DEMO_KEY not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
