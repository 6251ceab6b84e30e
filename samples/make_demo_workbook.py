"""Build the demo workbook `sheetsync-demo.xlsx` from sheetsync/data/demo_workbook.py.

    .venv/bin/python samples/make_demo_workbook.py

writes sheetsync/data/sheetsync-demo.xlsx (the package data `sheetsync demo` copies) and
samples/sheetsync-demo.xlsx (the same bytes, for people browsing the repository). The output is
byte-for-byte reproducible: zip entry times and the workbook's modified stamp are fixed, so a
test can rebuild it and compare with the shipped file.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sheetsync.data.demo_workbook import build_workbook  # noqa: E402

TARGETS = (
    ROOT / "sheetsync" / "data" / "sheetsync-demo.xlsx",
    ROOT / "samples" / "sheetsync-demo.xlsx",
)


def main() -> None:
    data = build_workbook()
    for target in TARGETS:
        target.write_bytes(data)
        sys.stdout.write(f"wrote {target.relative_to(ROOT)} ({len(data)} bytes)\n")


if __name__ == "__main__":
    main()
