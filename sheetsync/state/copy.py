"""`sheetsync state migrate --to URL`: the SQLite state copied into a PostgreSQL one.

Both are brought to the same schema version first, so their tables have the same columns; every
column is copied as it is, table by table, pending intents first (what may have been sent
matters most), then the rows, the run history, the Outcomes and the sheets' marks, in one
PostgreSQL transaction: all of it or nothing. Ids are given anew, in the same order. A sheet the
PostgreSQL state already holds is refused before anything is written (nothing is merged or
overwritten). Not copied: the webhook registration and the stored events (workers read Outcomes
from the API), and the marks the caller names (`skip_marks`: positions in those events).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from sheetsync.errors import StateError
from sheetsync.state.postgres import PostgresState
from sheetsync.state.store import State

TABLES = ("intents", "items", "runs", "outcomes", "marks")  # pending intents first


@dataclass
class Copied:
    sheets: list[str]
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied


def copy_state(
    src: State, dst: PostgresState, *, skip_marks: frozenset[str] = frozenset()
) -> Copied:
    names = sorted(
        {r[0] for t in TABLES for r in src.db.execute(f"SELECT DISTINCT sheet FROM {t}")}
    )
    copied = Copied(names)
    with dst.pool.connection() as conn, conn.transaction():
        union = " UNION ".join(f"SELECT sheet FROM {t} WHERE sheet = ANY(%(s)s)" for t in TABLES)
        taken = conn.execute(f"{union} ORDER BY 1", {"s": names}).fetchall()
        if taken:
            held = ", ".join(repr(r[0]) for r in taken)
            raise StateError(
                f"the PostgreSQL state already holds sheet {held}; nothing was copied (copy "
                "into an empty database, or rename the [[sheet]])"
            )
        for table in TABLES:
            order = " ORDER BY id" if table in ("intents", "runs") else ""
            cur = src.db.execute(f"SELECT * FROM {table}{order}")
            columns = [d[0] for d in cur.description if d[0] != "id"]
            keep = [i for i, d in enumerate(cur.description) if d[0] != "id"]
            rows = [tuple(r[i] for i in keep) for r in cur]
            if table == "marks":
                rows = [r for r in rows if r[columns.index("name")] not in skip_marks]
            insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(table),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join([sql.Placeholder()] * len(columns)),
            )
            with conn.cursor() as c:
                c.executemany(insert, rows)
            copied.rows[table] = len(rows)
    return copied
