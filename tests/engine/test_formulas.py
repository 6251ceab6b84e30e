"""Formulas in an xlsx workbook (issue 11): sheetsync's own save never changes what the next read
sees, and a formula without a computed result is unknown, never empty.

Workbooks "saved by Excel" are written with XlsxWriter (formulas with their cached results, text
in shared strings); workbooks "saved by a program that does not calculate" with openpyxl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from sheetsync.app.report import plan_table
from sheetsync.errors import SheetUnavailable
from sheetsync.sync import statuses
from tests.engine.conftest import MBX, Harness
from tests.xlsx_books import F, excel_book, formulas, literal

pytestmark = pytest.mark.parametrize("h", ["xlsx"], indirect=True)

WRITES = ("POST", "PATCH", "DELETE")
EMAILS = ["ann@example.com", "bob@example.com", "cy@example.com"]
NO_VALUE = "with no computed value; open the workbook in Excel or LibreOffice and save it"
WAIT = f"is a formula {NO_VALUE}"


def formula_tabs() -> dict[str, list[list[Any]]]:
    """Every input cell of every input tab is a formula; a few are the kind people write."""
    prospects: list[list[Any]] = [
        ["Email", "First Name", "Last Name", "Company", "Phone", "LinkedIn URL", "Industry"]
    ]
    for i, email in enumerate(EMAILS):
        name = email.split("@")[0].title()
        prospects.append(
            [
                F(f'=LOWER("{email.upper()}")', email),
                F(f'=PROPER("{name.lower()}")', name),
                literal(f"Last{i}"),
                F('=IF(TRUE,"Acme","")', "Acme"),
                F(f"=5551230000+{i}", 5551230000 + i),
                F(
                    f'=HYPERLINK("https://www.linkedin.com/in/{name.lower()}")',
                    f"https://www.linkedin.com/in/{name.lower()}",
                ),
                literal("SaaS"),
            ]
        )
    return {
        "Prospects": prospects,
        "Campaigns": [
            ["Campaign", "Mailboxes", "Daily Send Limit", "Window Start", "Window End", "State"],
            [
                F('=TRIM("  Q1 Launch ")', "Q1 Launch"),
                F(f'=LOWER("{MBX.upper()}")', MBX),
                F("=10*5", 50),
                literal("09:00"),
                literal("17:00"),
                F('=IF(1=1,"Running","Draft")', "Running"),
            ],
        ],
        "Steps": [
            ["Campaign", "Step", "Delay Days", "Subject", "Body"],
            [
                F("=Campaigns!A2", "Q1 Launch"),
                F("=ROW()-1", 1),
                F("=0", 0),
                F('="Hello "&"{{firstName}}"', "Hello {{firstName}}"),
                literal("<p>Hi</p>"),
            ],
            [
                F("=Campaigns!A2", "Q1 Launch"),
                F("=ROW()-1", 2),
                F("=1+1", 2),
                literal("Following up"),
                literal("<p>Again</p>"),
            ],
        ],  # fmt: skip
        "Enrollments": [
            ["Email", "Campaign", "Enrolled"],
            *(
                [F(f"=Prospects!A{i + 2}", email), F("=Campaigns!A2", "Q1 Launch"), F("=1=1", True)]
                for i, email in enumerate(EMAILS)
            ),
        ],
        "Sync Log": [["Time"]],
    }


def remote_objects(h: Harness) -> dict[str, Any]:
    """WarmySender's prospects, campaigns and enrollments, as the sandbox holds them."""
    ws = h.ws()
    return {"prospects": ws["prospects"], "campaigns": ws["campaigns"]}


def remote_writes(h: Harness) -> int:
    return sum(n for ep, n in h.ws()["requestsByEndpoint"].items() if ep.split()[0] in WRITES)


def test_formulas_in_every_input_column_sync_once_then_never_again(h: Harness) -> None:
    h.make()
    book = Path(h.config.sheets[0].spreadsheet)
    excel_book(book, formula_tabs())
    before = formulas(book)
    assert sum(len(v) for v in before.values()) == 3 * 7 + 6 + 2 * 5 + 3 * 3

    first = h.sync()
    assert (first.prospects_created, first.campaigns_created, first.enrolled) == (3, 1, 3)
    assert first.campaigns_started == 1 and first.errors == 0
    ws = h.ws()
    [ann] = [p for p in ws["prospects"] if p["email"] == "ann@example.com"]
    assert ann["firstName"] == "Ann" and ann["phone"] == "5551230000"
    assert ann["linkedinUrl"] == "https://www.linkedin.com/in/ann"
    [q1] = ws["campaigns"]
    assert (q1["name"], q1["dailySendLimit"], q1["status"]) == ("Q1 Launch", 50, "running")
    assert len(q1["steps"]) == 2 and q1["steps"][1]["delayDays"] == 2
    writes, objects = remote_writes(h), remote_objects(h)

    for poll in range(2, 6):
        h.restart()  # each sync a fresh process, as `sheetsync sync` from cron
        r = h.poll()
        assert formulas(book) == before, f"poll {poll}: a formula or its cached result changed"
        assert remote_writes(h) == writes, f"poll {poll} sent a change to WarmySender"
        assert remote_objects(h) == objects
        assert r.errors == 0
        assert {row["Sync Status"] for row in h.table("Prospects")} == {"synced"}
        assert {row["Enrollment Status"] for row in h.table("Enrollments")} == {"enrolled"}
        assert {row["Sync Status"] for row in h.table("Steps")} == {"synced"}
        assert h.table("Campaigns")[0]["Sync Status"] == "synced"


def test_a_workbook_saved_without_results_waits_and_calls_nothing(h: Harness) -> None:
    """The same workbook written by openpyxl: every formula is unknown; every row says so and
    nothing is sent. Once the results are there (opened and saved in Excel), it syncs."""
    tabs = formula_tabs()
    plain = {t: [[v.formula if isinstance(v, F) else v for v in row] for row in rows]
             for t, rows in tabs.items()}  # fmt: skip
    h.make(plain)
    with h.open() as ss:  # the dry run predicts it
        dry = ss.plan()
    assert [a for a in dry.plan.actions if a.kind != "want"] == []
    assert [(w.role, w.row) for w in dry.waiting] == [
        *(("prospects", n) for n in (2, 3, 4)),
        ("campaigns", 2),
        ("steps", 2),
        ("steps", 3),
        *(("enrollments", n) for n in (2, 3, 4)),
    ]
    console = Console(record=True, width=400)
    console.print(plan_table(dry))
    assert "campaigns row 2: waiting: Campaign, Mailboxes" in console.export_text()
    r = h.sync()
    assert r.api_calls == 0 and h.ws()["requestsByEndpoint"] == {}
    assert r.errors == 0  # waiting, not failed
    p = h.table("Prospects")[0]
    assert p["Sync Status"] == (
        "waiting: Email, First Name, Last Name, Company, Phone, LinkedIn URL and Industry "
        "are formulas with no computed value; open the workbook in Excel or LibreOffice and "
        "save it"
    )
    assert h.row("Campaigns", "Campaign", '=TRIM("  Q1 Launch ")')["Sync Status"] == (
        "waiting: Campaign, Mailboxes, Daily Send Limit, Window Start, Window End and State "
        "are formulas with no computed value; open the workbook in Excel or LibreOffice and "
        "save it"
    )
    assert [s["Sync Status"] for s in h.table("Steps")] == [
        f"waiting: Campaign, Step, Delay Days, Subject and Body are formulas {NO_VALUE}"
    ] * 2
    assert {e["Enrollment Status"] for e in h.table("Enrollments")} == {
        f"waiting: Email, Campaign and Enrolled are formulas {NO_VALUE}"
    }
    assert h.poll().api_calls == 0

    excel_book(Path(h.config.sheets[0].spreadsheet), tabs)  # opened and saved in Excel
    done = h.poll()
    assert (done.prospects_created, done.campaigns_created, done.enrolled) == (3, 1, 3)
    assert {row["Sync Status"] for row in h.table("Prospects")} == {"synced"}


def test_a_row_whose_result_is_lost_keeps_everything_it_had(h: Harness) -> None:
    """Synced rows whose formulas lose their results (the workbook saved by a script through
    openpyxl): no update, no unenroll (even with on_row_removed = "unenroll"), and once the
    results are back, the rows are as they were without a single call."""
    h.make(on_row_removed="unenroll")
    assert h.sync().enrolled == 3
    book = h.book
    assert book is not None
    writes = remote_writes(h)
    book.set_cell("Prospects", 2, 3, '="Acme"&" Corp"')  # Company of p0: no result
    book.set_cell("Enrollments", 3, 0, "=Prospects!A3")  # Email of p1's enrollment: no result
    r = h.poll()
    assert remote_writes(h) == writes, "a row with an unknown cell was acted on"
    [q1] = h.ws()["campaigns"]
    assert len([e for e in q1["enrollments"] if e["status"] == "active"]) == 3
    assert h.table("Prospects")[0]["Sync Status"] == f"waiting: Company {WAIT}"
    assert h.table("Prospects")[0]["Prospect ID"]  # kept
    assert h.table("Enrollments")[1]["Enrollment Status"] == f"waiting: Email {WAIT}"
    assert r.errors == 0

    book.set_cell("Prospects", 2, 3, "Acme")  # the results are back, unchanged
    book.set_cell("Enrollments", 3, 0, "p1@example.com")
    h.poll()
    assert remote_writes(h) == writes
    assert h.table("Prospects")[0]["Sync Status"] == "synced"
    assert h.table("Enrollments")[1]["Enrollment Status"] == "enrolled"


def test_a_step_without_result_holds_its_campaign(h: Harness) -> None:
    h.make()
    book = h.book
    assert book is not None
    book.set_cell("Steps", 3, 3, '="Following "&"up"')  # step 2's Subject: no result
    r = h.sync()
    assert r.campaigns_created == 0 and h.ws()["campaigns"] == []
    assert r.prospects_created == 3  # the other tabs go on
    assert h.row("Campaigns", "Campaign", "Q1 Launch")["Sync Status"] == (
        f"waiting: Steps row 3: Subject {WAIT}"
    )
    assert h.table("Steps")[1]["Sync Status"] == f"waiting: Subject {WAIT}"
    assert {e["Enrollment Status"] for e in h.table("Enrollments")} == {
        statuses.campaign_not_created("q1 launch")
    }


def test_a_workbook_open_in_excel_is_refused_before_any_api_call(h: Harness) -> None:
    h.make()
    book = Path(h.config.sheets[0].spreadsheet)
    lock = book.with_name("~$" + book.name)
    lock.write_text("alex", encoding="utf-8")
    with pytest.raises(SheetUnavailable, match=r"open in another program \(lock file ~\$book"):
        h.sync()
    assert h.ws()["requestsByEndpoint"] == {}
    lock.unlink()
    assert h.poll().prospects_created == 3
