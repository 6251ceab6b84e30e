"""`sheetsync init`: write a config from the shipped example, and create the tabs a sheet needs.

The example config (`sheetsync/data/sheetsync.example.toml`, a copy of
config/sheetsync.example.toml) is package data, so this works after a plain `pip install`.
Tabs are created through the source's `create_tabs`: headers, checkboxes on boolean columns, a
frozen header row, status columns protected with a warning and a note. Tabs that exist are
never touched, and an existing config is only replaced with `force`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal

from sheetsync.config import Config, SheetConfig, load_config
from sheetsync.errors import ConfigError
from sheetsync.sheet.base import SheetSource, TabLayout
from sheetsync.sheet.connect import open_source
from sheetsync.sheet.layout import TAB_ROLES

STATUS_NOTE = "Written by sheetsync; edits here are overwritten on the next sync."
EXAMPLE_CONFIG = "sheetsync.example.toml"


def example_config() -> str:
    """The annotated example config shipped with sheetsync."""
    return (files("sheetsync.data") / EXAMPLE_CONFIG).read_text(encoding="utf-8")


def render_config(
    template: str, *, source: Literal["google", "xlsx"], spreadsheet: str, name: str | None = None
) -> str:
    """The template with the [[sheet]]'s source and spreadsheet (and name) filled in; every
    comment is kept."""
    values = {"source": source, "spreadsheet": spreadsheet}
    if name:
        values["name"] = name
    out = template
    for key, value in values.items():
        pattern = re.compile(rf'^{key} = "[^"\n]*"$', re.MULTILINE)
        if len(pattern.findall(out)) != 1:
            raise ConfigError(f"the example config has no single `{key} = ...` line to fill in")
        line = f"{key} = {json.dumps(value, ensure_ascii=False)}"  # a TOML basic string
        out = pattern.sub(line.replace("\\", "\\\\"), out)  # no group references in `line`
    return out


def write_config(
    path: Path,
    *,
    xlsx: Path | None = None,
    spreadsheet: str | None = None,
    force: bool = False,
) -> Config:
    """Write a config for one workbook (`xlsx`) or one Google spreadsheet (id or URL) at `path`,
    then load it back (so a bad id is reported now). Refuses to replace a file unless `force`."""
    if (xlsx is None) == (spreadsheet is None):
        raise ConfigError("pass exactly one of --xlsx PATH or --spreadsheet ID")
    if path.exists() and not force:
        raise ConfigError(
            "a config already exists here; pass --force to replace it, or --config PATH to "
            "write another one (run `sheetsync init` without --xlsx/--spreadsheet to create the "
            "tabs of the existing config)",
            path=str(path),
        )
    if xlsx is not None:
        target = xlsx.expanduser().resolve()
        folder = path.parent.resolve()
        try:
            where = os.path.relpath(target, folder)  # the config resolves paths from its folder
        except ValueError:  # another drive (Windows)
            where = str(target)
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", target.stem).strip("-") or "workbook"
        text = render_config(
            example_config(), source="xlsx", spreadsheet=Path(where).as_posix(), name=stem
        )
    else:
        assert spreadsheet is not None
        text = render_config(example_config(), source="google", spreadsheet=spreadsheet.strip())
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot write the config ({exc.strerror}); pass --config PATH to write it elsewhere",
            path=str(path),
        ) from None
    try:
        load_config(tmp, env={})
    except ConfigError as exc:
        tmp.unlink()
        raise ConfigError(str(exc).replace(str(tmp), str(path))) from None
    os.replace(tmp, path)
    return load_config(path)


def tab_layouts(sheet: SheetConfig) -> list[TabLayout]:
    """What `init` creates for a sheet: every tab with its (renamed) headers. The Sync Log tab is
    written by sheetsync alone, so all of its columns count as status columns. Optional columns
    that change behaviour by existing (the Prospects `Sync` gate) are left for people to add;
    the Campaigns `Confirm` box is created (it acts only when ticked)."""
    layouts = []
    for role in TAB_ROLES:
        spec = sheet.tab(role)
        cols = [c for c in spec.columns if c.template]
        layouts.append(
            TabLayout(
                title=spec.title,
                headers=[c.header for c in cols],
                checkbox_columns=[i for i, c in enumerate(cols) if c.kind == "bool"],
                status_columns=[i for i, c in enumerate(cols) if c.status or role == "sync_log"],
                note=STATUS_NOTE,
            )
        )
    return layouts


@dataclass(frozen=True)
class TabsResult:
    sheet: str
    label: str  # the workbook path or spreadsheet id
    layouts: tuple[TabLayout, ...]
    created: tuple[str, ...]  # titles created now
    kept: tuple[str, ...]  # titles that already existed (left as they were)


def create_sheet_tabs(
    config: Config, sheet: SheetConfig, *, source: SheetSource | None = None
) -> TabsResult:
    """Create the tabs of `sheet` that do not exist yet."""
    layouts = tab_layouts(sheet)
    src = source if source is not None else open_source(sheet, config.google)
    try:
        created = src.create_tabs(layouts)
        label = src.label
    finally:
        if source is None:
            src.close()
    kept = tuple(lay.title for lay in layouts if lay.title not in created)
    return TabsResult(sheet.name, label, tuple(layouts), tuple(created), kept)


def describe(layout: TabLayout) -> str:
    """`12 columns; checkboxes: Sync; sheetsync writes: Sync Status, Prospect ID, Synced At`."""
    parts = [f"{len(layout.headers)} columns"]
    boxes = _names(layout.headers, layout.checkbox_columns)
    if boxes:
        parts.append(f"checkboxes: {boxes}")
    owned = _names(layout.headers, layout.status_columns)
    if owned:
        parts.append(f"protected (sheetsync writes them): {owned}")
    return "; ".join(parts)


def _names(headers: Sequence[str], idx: Sequence[int]) -> str:
    return ", ".join(headers[i] for i in idx)
