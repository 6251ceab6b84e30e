"""Replay the recorded Google Sheets traffic against the emulator and compare the answers.

Source: tests/emulator/recordings, a copy of shared/google-sheets-recordings (vcrpy cassettes
from gspread's test suite). Each
cassette holds one or two runs of a test; a run starts with the Drive call that creates the
spreadsheet. Every Sheets interaction of every run is a test case: a fresh emulator is seeded
with the spreadsheet the Drive call created (Sheet1, 1000 x 26, the recorded id and title), the
interactions before it are replayed, then its answer is compared with the recorded one.

Compared: HTTP status; error code/status/message (and details when recorded); for values
endpoints the whole body; for spreadsheets.get the spreadsheet id, title, locale, autoRecalc,
timeZone, spreadsheetUrl and every sheet (properties and protected ranges); for batchUpdate the
replies. Ignored, because the emulator does not model them: spreadsheet formatting/theme
properties (defaultFormat, spreadsheetTheme) and the `editors` of protected ranges (Google fills
in the service account's e-mail).

Request rewriting: the recorded ids of sheets and protected ranges were chosen by Google, so
addSheet/addProtectedRange requests are replayed with the recorded id set explicitly (the API
accepts a caller-chosen `sheetId`/`protectedRangeId`); the answers must then match exactly.

Seeding beyond the Drive call: ClientTest.test_access_private_spreadsheet opens a spreadsheet
owned by someone else; it is seeded as a spreadsheet shared with another token only.

Skipped: the Drive API interactions (www.googleapis.com/drive: creating/deleting the file,
its metadata), which are not part of the Sheets API. No Sheets interaction is skipped; SKIPPED
below is where one would be listed with its reason. Notably the append table detection of
WorksheetTest.test_append_row_with_empty_value (Google appends [x, "", z] after a row
[x, "", z] at C2:E2, tableRange C1) is reproduced, not skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from sheetsync.testing import SheetsEmulator

RECORDINGS = Path(__file__).parent / "recordings"
SHEETS = "https://sheets.googleapis.com"
SKIPPED: dict[str, str] = {}  # "cassette#run[index]" -> reason; none at present
TOKEN = "conformance-token"


def _runs() -> list[tuple[str, list[dict[str, Any]]]]:
    runs = []
    for path in sorted(RECORDINGS.glob("*.json")):
        interactions = json.loads(path.read_text())["interactions"]
        current: list[dict[str, Any]] = []
        n = 0
        for it in interactions:
            req = it["request"]
            if req["method"] == "POST" and req["uri"].startswith(
                "https://www.googleapis.com/drive/v3/files?"
            ):
                if current:
                    runs.append((f"{path.stem}#{n}", current))
                n += 1
                current = []
            current.append(it)
        if current:
            runs.append((f"{path.stem}#{n}", current))
    return runs


def _cases() -> Iterator[Any]:
    for name, run in _runs():
        for i, it in enumerate(run):
            if not it["request"]["uri"].startswith(SHEETS):
                continue
            case_id = f"{name}[{i}]"
            marks = [pytest.mark.skip(reason=SKIPPED[case_id])] if case_id in SKIPPED else []
            yield pytest.param(name, run, i, id=case_id, marks=marks)


CASES = list(_cases())


def test_recordings_present() -> None:
    assert len(CASES) >= 150, "the recorded cassettes were not found or are incomplete"


def _seed(emu: SheetsEmulator, run: list[dict[str, Any]]) -> None:
    created = json.loads(run[0]["response"]["body"]["string"])
    emu.create_spreadsheet({"Sheet1": []}, title=created["name"], spreadsheet_id=created["id"])
    for it in run:
        uri = it["request"]["uri"]
        if it["response"]["status"]["code"] == 403 and uri.startswith(SHEETS):
            other = urlsplit(uri).path.split("/")[3]
            emu.create_spreadsheet({"Sheet1": []}, spreadsheet_id=other)
            emu.share(other, allowed_tokens={"someone-else"})


def _request_body(it: dict[str, Any]) -> bytes | None:
    body = it["request"]["body"]
    if not body:
        return None
    data = json.loads(body)
    reply = json.loads(it["response"]["body"]["string"] or "{}")
    # Replay the ids Google chose as caller-chosen ids (see module docstring).
    for req, rep in zip(data.get("requests", []), reply.get("replies", []), strict=False):
        if "addSheet" in req and "addSheet" in rep:
            req["addSheet"]["properties"]["sheetId"] = rep["addSheet"]["properties"]["sheetId"]
        if "addProtectedRange" in req and "addProtectedRange" in rep:
            recorded = rep["addProtectedRange"]["protectedRange"]["protectedRangeId"]
            req["addProtectedRange"]["protectedRange"]["protectedRangeId"] = recorded
    return json.dumps(data).encode()


def _send(session: requests.Session, emu: SheetsEmulator, it: dict[str, Any]) -> requests.Response:
    req = it["request"]
    url = emu.base_url + req["uri"][len(SHEETS) :]
    body = _request_body(it)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    return session.request(req["method"], url, data=body, headers=headers, timeout=10)


def _strip_editors(sheets: list[dict[str, Any]]) -> None:
    for sheet in sheets:
        for pr in sheet.get("protectedRanges", []):
            pr.pop("editors", None)


def _comparable(uri: str, method: str, body: dict[str, Any]) -> dict[str, Any]:
    if "error" in body:
        return body
    path = urlsplit(uri).path
    if method == "GET" and "/values" not in path:  # spreadsheets.get
        props = body["properties"]
        out = {
            "spreadsheetId": body["spreadsheetId"],
            "properties": {
                k: props[k] for k in ("title", "locale", "autoRecalc", "timeZone") if k in props
            },
            "sheets": body["sheets"],
            "spreadsheetUrl": body["spreadsheetUrl"],
        }
        _strip_editors(out["sheets"])
        return out
    if "replies" in body:
        for reply in body["replies"]:
            if "addProtectedRange" in reply:
                reply["addProtectedRange"]["protectedRange"].pop("editors", None)
    return body


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {TOKEN}"
        yield s


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[SheetsEmulator]:
    with SheetsEmulator(read_quota_per_min=100_000, write_quota_per_min=100_000) as emu:
        yield emu


@pytest.fixture
def emu(module_emulator: SheetsEmulator) -> Iterator[SheetsEmulator]:
    """One server for the module; the spreadsheets a case seeds are removed after it."""
    yield module_emulator
    for sid in module_emulator.spreadsheet_ids():
        module_emulator.delete_spreadsheet(sid)


@pytest.mark.parametrize(("name", "run", "index"), CASES)
def test_replay(
    name: str, run: list[dict[str, Any]], index: int, session: requests.Session, emu: SheetsEmulator
) -> None:
    _seed(emu, run)
    for it in run[:index]:
        if it["request"]["uri"].startswith(SHEETS):
            resp = _send(session, emu, it)
            assert resp.status_code == it["response"]["status"]["code"], resp.text
    it = run[index]
    resp = _send(session, emu, it)
    recorded_status = it["response"]["status"]["code"]
    recorded = json.loads(it["response"]["body"]["string"])
    assert resp.status_code == recorded_status, resp.text
    method, uri = it["request"]["method"], it["request"]["uri"]
    assert _comparable(uri, method, resp.json()) == _comparable(uri, method, recorded)
