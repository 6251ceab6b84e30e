"""A person edits the sheet while a cycle runs, between its read and its write.

Google: the emulator's hook runs the edit right before the cycle's second values.batchGet (the
fresh read of the key columns that the write is addressed by). xlsx: the same edit runs through
the source wrapper right before `read_keys`. Statuses must still land on their own rows (checked
against WarmySender's ids per email), rows added or changed by the edit are picked up next cycle,
and nothing is called twice. An edit that lands after the key re-read (right before the write
itself) can misplace statuses for one cycle; the next poll puts every status back without an API
call, because status cells are a projection of state.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sheetsync.sheet.base import CellWrite
from sheetsync.testing.sheets_emulator import SheetsEmulator
from tests.engine import conftest as engine
from tests.engine.conftest import Harness, default_tabs

clock, sandbox, server, h = engine.clock, engine.sandbox, engine.server, engine.h

Edit = Callable[[Harness], None]
N = 6


def arm(h: Harness, edit: Edit, *, moment: str = "read_keys") -> list[int]:
    """Run `edit` once, in the next cycle, right before the key re-read (or the write)."""
    fired: list[int] = []

    def once() -> None:
        if not fired:
            fired.append(1)
            edit(h)

    if h.kind == "google":
        assert h.emu is not None
        gets: list[str] = []

        def hook(kind: str, emu: SheetsEmulator) -> None:
            if kind == "values.batchGet":
                gets.append(kind)
            if moment == "read_keys" and kind == "values.batchGet" and len(gets) == 2:
                once()
            if moment == "write" and kind == "values.batchUpdate":
                once()

        h.emu.hook = hook
    else:
        if h.hooked is None:
            h.restart()
            h.before_read_keys = lambda: None
            h.ss = h.open()
        assert h.hooked is not None
        if moment == "read_keys":
            h.hooked.before = once
        else:
            inner = type(h.hooked).write.__get__(h.hooked)

            def write(cells: list[CellWrite]) -> None:
                once()
                inner(cells)

            h.hooked.write = write  # type: ignore[method-assign]
    return fired


def disarm(h: Harness) -> None:
    if h.emu is not None:
        h.emu.hook = None
    if h.hooked is not None:
        h.hooked.before = lambda: None


def ids(h: Harness) -> dict[str, str]:
    return {p["email"]: p["id"] for p in h.ws()["prospects"]}


def assert_statuses_on_their_rows(h: Harness, *, pending: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Each prospect row shows the id WarmySender has for its own email; each enrollment row of
    an existing prospect says enrolled. `pending`: rows not synced yet (no status)."""
    remote = ids(h)
    for row in h.table("Prospects"):
        email = str(row["Email"])
        if email in pending:
            assert row.get("Sync Status") in (None, ""), row
            continue
        assert row["Prospect ID"] == remote[email], row
        assert row["Sync Status"] == "synced", row
    for row in h.table("Enrollments"):
        if str(row["Email"]) in pending:
            continue
        assert row["Enrollment Status"] == "enrolled", row


def one_per_email(h: Harness) -> None:
    emails = [p["email"] for p in h.ws()["prospects"]]
    assert len(emails) == len(set(emails))
    [camp] = h.ws()["campaigns"]
    enrolled = [e["email"] for e in camp["enrollments"]]
    assert len(enrolled) == len(set(enrolled))


def sort_both(h: Harness) -> None:
    assert h.book is not None
    h.book.sort("Prospects", 0, descending=True)
    h.book.sort("Enrollments", 0, descending=True)


def insert_above(h: Harness) -> None:
    assert h.book is not None
    h.book.insert("Prospects", 2, [["new@example.com", "New", "Person", "Acme", "SaaS"], []])
    h.book.insert("Enrollments", 2, [["new@example.com", "Q1 Launch", True]])


def delete_some(h: Harness) -> None:
    assert h.book is not None
    h.book.delete("Prospects", 3, 2)  # p1, p2
    h.book.delete("Enrollments", 2)  # p0


def test_sort_between_read_and_write(h: Harness) -> None:
    h.make(default_tabs(N))
    fired = arm(h, sort_both)
    r = h.sync()
    assert fired and r.prospects_created == N and r.enrolled == N
    assert h.table("Prospects")[0]["Email"] == f"p{N - 1}@example.com"  # it was sorted
    assert_statuses_on_their_rows(h)
    disarm(h)
    again = h.poll()
    assert (again.api_calls, again.sheets_writes) == (0, 0)


def test_rows_inserted_above_between_read_and_write(h: Harness) -> None:
    h.make(default_tabs(N))
    arm(h, insert_above)
    r = h.sync()
    assert r.prospects_created == N
    assert_statuses_on_their_rows(h, pending={"new@example.com"})
    disarm(h)
    r = h.poll()  # the inserted rows are picked up now
    assert (r.prospects_created, r.enrolled) == (1, 1)
    assert_statuses_on_their_rows(h)
    one_per_email(h)


def test_rows_deleted_between_read_and_write(h: Harness) -> None:
    h.make(default_tabs(N))
    arm(h, delete_some)
    r = h.sync()
    assert r.prospects_created == N  # p1 and p2 were read before they went
    emails = [row["Email"] for row in h.table("Prospects")]
    assert "p1@example.com" not in emails and len(emails) == N - 2
    assert_statuses_on_their_rows(h)
    disarm(h)
    r = h.poll()
    assert (r.api_calls, r.unenrolled) == (0, 0)  # removed rows keep WarmySender as it is
    assert_statuses_on_their_rows(h)


def test_a_row_edited_while_it_syncs_is_picked_up_next_cycle(h: Harness) -> None:
    h.make(default_tabs(N))

    def edit(h: Harness) -> None:
        assert h.book is not None
        h.book.set_cell("Prospects", 3, 3, "Globex")  # p1's company
        h.book.set_cell("Prospects", 4, 0, "p2-renamed@example.com")  # p2's key

    arm(h, edit)
    r = h.sync()
    assert r.prospects_created == N
    remote = {p["email"]: p for p in h.ws()["prospects"]}
    assert remote["p1@example.com"]["company"] == "Acme"  # sent as read
    p1 = h.row("Prospects", "Email", "p1@example.com")
    assert (p1["Sync Status"], p1["Prospect ID"]) == ("synced", remote["p1@example.com"]["id"])
    renamed = h.row("Prospects", "Email", "p2-renamed@example.com")
    assert renamed.get("Sync Status") in (None, "")  # its key changed: p2's status is not its
    disarm(h)
    r = h.poll()
    assert (r.prospects_updated, r.prospects_created) == (1, 1)
    remote = {p["email"]: p for p in h.ws()["prospects"]}
    assert remote["p1@example.com"]["company"] == "Globex"
    renamed = h.row("Prospects", "Email", "p2-renamed@example.com")
    assert renamed["Prospect ID"] == remote["p2-renamed@example.com"]["id"]
    one_per_email(h)


def test_a_status_cell_cleared_during_a_cycle_is_written_again(h: Harness) -> None:
    h.make(default_tabs(N))
    h.sync()
    before = h.table("Prospects")

    def clear(h: Harness) -> None:
        assert h.book is not None
        h.book.set_cell("Prospects", 3, 5, None)  # p1's Sync Status
        h.book.set_cell("Prospects", 4, 6, "typed over")  # p2's Prospect ID

    fired = arm(h, clear)
    assert h.book is not None
    h.book.insert("Prospects", N + 2, [["late@example.com", "Late", "Comer", "Acme", "SaaS"]])
    r = h.poll()  # a cycle that writes (late's status), with the cells cleared under it
    assert fired and r.prospects_created == 1
    assert h.row("Prospects", "Email", "p1@example.com").get("Sync Status") in (None, "")
    disarm(h)
    r = h.poll()
    assert (r.api_calls, r.sheets_writes) == (0, 1)
    assert h.table("Prospects")[:N] == before
    assert_statuses_on_their_rows(h)


@pytest.mark.parametrize("edit", [sort_both, insert_above, delete_some])
def test_an_edit_right_before_the_write_heals_next_poll(h: Harness, edit: Edit) -> None:
    """The one window re-addressing cannot close (between the key re-read and the write)."""
    h.make(default_tabs(N))
    fired = arm(h, edit, moment="write")
    r = h.sync()
    assert fired and r.prospects_created == N
    disarm(h)
    if h.kind == "xlsx":
        h.restart()  # drop the wrapper
    r = h.poll()
    assert r.api_calls <= 2  # at most the rows inserted above: one create, one enroll
    r = h.poll()
    assert r.api_calls == 0
    assert_statuses_on_their_rows(h)
    one_per_email(h)
    for tab in ("Prospects", "Enrollments"):  # no status left on a row without a key
        assert h.book is not None
        for row in h.book.values(tab)[1:]:
            if all(v in (None, "") for v in row[:1]):
                assert all(v in (None, "") for v in row), (tab, row)
