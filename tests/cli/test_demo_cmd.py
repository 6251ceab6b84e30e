"""`sheetsync demo` from an empty directory: two real cycles against the in-process sandbox,
and the workbook it leaves behind shows the statuses a marketer would look for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.app.demo import BOUNCE, OPEN, REPLY
from sheetsync.data import demo_workbook as sample
from sheetsync.sandbox import demo_seed
from sheetsync.sheet.layout import header_key


def rows_by(ws: Any, *keys: str) -> dict[tuple[str, ...], dict[str, Any]]:
    grid = [list(r) for r in ws.iter_rows(values_only=True)]
    header = [header_key(h) for h in grid[0]]
    out = {}
    for row in grid[1:]:
        record = {h: v for h, v in zip(header, row, strict=False) if h != "none"}
        out[tuple(str(record.get(header_key(k))) for k in keys)] = record
    return out


def test_demo_runs_two_cycles_and_fills_the_status_columns(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Cycle 1" in out and "Cycle 2" in out
    assert "Copied the demo workbook" in out
    workbook = tmp_path / sample.WORKBOOK_NAME
    assert str(workbook) in out
    cycle1, cycle2 = out.split("Cycle 2", 1)
    cycle2, cycle3 = cycle2.split("Cycle 3", 1)
    # After cycle 1 the Running campaign is running; cycle 2 pauses it.
    assert "campaigns started" in cycle1 and "running" in cycle1
    assert "campaigns paused" in cycle2 and "unenrolled" in cycle2
    # Cycle 3: the reply WarmySender reported is in the sheet
    assert "replied" in cycle3 and "unenrolled" in cycle3

    wb = openpyxl.load_workbook(workbook)
    try:
        prospects = rows_by(wb["Prospects"], "Email")
        assert prospects[("maria.gonzalez@brightpath.io",)]["syncstatus"] == "synced"
        assert str(prospects[("maria.gonzalez@brightpath.io",)]["prospectid"]).strip()
        bad_email = prospects[("dana.whitfield@",)]["syncstatus"]
        assert bad_email.startswith("error: ") and "email" in bad_email.lower()
        dup = prospects[("Maria.Gonzalez@BrightPath.io",)]["syncstatus"]
        assert dup == "error: duplicate of row 2"
        linkedin = prospects[("samuel.okafor@kitepay.ng",)]["syncstatus"]
        assert linkedin.startswith("synced: left out: LinkedIn URL")  # the rest is sent
        assert prospects[(sample.BOUNCED,)]["syncstatus"] == "exists"
        # Added by the marketer before cycle 2, created in cycle 2.
        assert prospects[(str(sample.SECOND_CYCLE_PROSPECT[0]),)]["syncstatus"] == "synced"
        good = [p for p in prospects.values() if p["syncstatus"].startswith("synced")]
        assert len(good) == 24  # 23 sample prospects + the one added before cycle 2

        campaigns = rows_by(wb["Campaigns"], "Campaign")
        running, draft = campaigns[(sample.RUNNING,)], campaigns[(sample.DRAFT,)]
        assert str(running["campaignid"]).startswith("cmp_")
        assert running["state"] == "Paused" and running["apistatus"] == "paused"
        assert str(draft["campaignid"]).startswith("cmp_") and draft["apistatus"] == "draft"
        assert running["syncstatus"] == draft["syncstatus"] == "synced"

        steps = rows_by(wb["Steps"], "Campaign", "Step")
        assert len(steps) == len(sample.STEPS)
        assert all(s["syncstatus"] == "synced" for s in steps.values()), steps

        enrollments = rows_by(wb["Enrollments"], "Email", "Campaign")
        assert enrollments[(sample.BOUNCED, sample.RUNNING)]["enrollmentstatus"] == "suppressed"
        assert (
            enrollments[(sample.SECOND_CYCLE_UNENROLL, sample.RUNNING)]["enrollmentstatus"]
            == "unenrolled"
        )
        assert (
            enrollments[("maria.gonzalez@brightpath.io", sample.RUNNING)]["enrollmentstatus"]
            == "enrolled"
        )
        added = (str(sample.SECOND_CYCLE_ENROLLMENT[0]), sample.DRAFT)
        assert enrollments[added]["enrollmentstatus"] == "enrolled"
        assert enrollments[("None", sample.DRAFT)]["enrollmentstatus"] == "enrolled"  # the list
        # Cycle 3: outcomes from WarmySender's webhooks, per row of the running campaign
        outcome = {e: enrollments[(e, sample.RUNNING)]["outcome"] for e in (REPLY, OPEN, BOUNCE)}
        assert outcome == {REPLY: "replied", OPEN: "opened", BOUNCE: "bounced"}
        assert enrollments[(REPLY, sample.RUNNING)]["enrollmentstatus"] == (
            "unenrolled: stopped on the Prospects tab"
        )
        assert str(enrollments[(REPLY, sample.RUNNING)]["lasteventat"]).endswith("Z")
        assert enrollments[("lukas.weber@nordlicht.de", sample.RUNNING)]["outcome"] == "sent"
        assert enrollments[(sample.BOUNCED, sample.RUNNING)]["outcome"] is None  # suppressed
        assert enrollments[added]["outcome"] is None  # a draft campaign sends nothing
        assert prospects[(REPLY,)]["stop"] is True  # stop_on_reply ticked it
    finally:
        wb.close()


def test_running_the_demo_again_replaces_its_workbook(tmp_path: Path) -> None:
    (tmp_path / sample.WORKBOOK_NAME).write_bytes(b"an old demo copy")
    result = CliRunner().invoke(cli, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Replaced the previous demo workbook" in result.output
    wb = openpyxl.load_workbook(tmp_path / sample.WORKBOOK_NAME)
    try:
        assert wb.sheetnames[:4] == ["Prospects", "Campaigns", "Steps", "Enrollments"]
    finally:
        wb.close()


def test_sample_data_matches_the_sandbox_demo_workspace() -> None:
    ws = demo_seed()["workspaces"][0]
    boxes = {m["email"]: m for m in ws["mailboxes"]}
    for mailbox in (sample.MAILBOX_1, sample.MAILBOX_2):
        assert boxes[mailbox]["connected"] and boxes[mailbox]["sendingEnabled"], mailbox
    statuses = {p["email"]: p["status"] for p in ws["prospects"]}
    assert statuses[sample.BOUNCED] == "bounced"
    assert sample.DEMO_LIST_ID in {lst["id"] for lst in ws["lists"]}


def test_demo_in_a_folder_it_cannot_write_says_so(tmp_path: Path) -> None:
    (tmp_path / sample.WORKBOOK_NAME).mkdir()  # a folder where the workbook would go
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 2
    assert "cannot write the demo workbook here" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_demo_reports_what_each_cycle_did(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from sheetsync.app.demo import run_demo

    result = run_demo(tmp_path, console=Console(file=io.StringIO(), width=120))
    first, second, third = result.cycles
    assert result.workbook == tmp_path / sample.WORKBOOK_NAME and not result.replaced
    assert (first.prospects_created, first.prospects_existing) == (23, 1)
    assert (first.campaigns_created, first.campaigns_started) == (2, 1)
    assert (first.suppressed, first.errors) == (1, 2)  # a bad email and a duplicate
    assert first.enrolled == 12 + 7  # founders, then 5 agencies + the 2 people of the list
    # Cycle 2 touches only what the marketer changed.
    assert (second.prospects_created, second.enrolled, second.unenrolled) == (1, 1, 1)
    assert (second.campaigns_paused, second.campaigns_created) == (1, 0)
    assert second.api_calls < 10 and second.sheets_writes == 1
    # Cycle 3: the reply's Stop tick unenrolls one row; the outcomes themselves cost no call.
    assert (third.unenrolled, third.enrolled, third.api_calls) == (1, 0, 1)
