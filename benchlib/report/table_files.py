"""Tables written as a Markdown and CSV pair that a later run can tell from a user's own files.

Every table benchlib saves is a pair, ``<name>.md`` and ``<name>.csv``, written by
:func:`write_table`. A CSV has no place for a marker that every program reading it would skip, so the
Markdown twin carries it: its first line is an HTML comment (invisible where the Markdown is shown)
that names benchlib and the SHA-256 of the CSV written with it. A later run replaces a pair only when
the Markdown begins with that marker and the CSV beside it is still the one it vouches for
(:func:`benchlib.report.outputs.export_file`); a file the user wrote, or edited since, is refused.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from benchlib.system.files import atomic_path

if TYPE_CHECKING:  # pandas only when a table is written: the output checks never need it
    import pandas as pd

#: How the first line of every table Markdown benchlib writes begins; the rest of the line vouches for the
#: CSV twin beside it.
TABLE_MARKER = "<!-- benchlib table"

_VOUCHED = re.compile(rb"\s*" + re.escape(TABLE_MARKER.encode()) + rb" csv-sha256=([0-9a-f]{64}) -->")


def marker_line(csv: bytes) -> str:
    """The Markdown's first line: benchlib's marker and the SHA-256 of its CSV twin's bytes."""
    return f"{TABLE_MARKER} csv-sha256={hashlib.sha256(csv).hexdigest()} -->"


def write_table(table: pd.DataFrame, folder: str | Path, name: str, markdown: str | None = None) -> list[Path]:
    """Write ``table`` as ``name.md`` and ``name.csv`` in ``folder`` (created if missing); return both paths.

    ``markdown`` is the Markdown body (default: every digit kept, :func:`~benchlib.report.tables.to_markdown`);
    the CSV is pandas' ``to_csv`` without the index, byte for byte as before.
    """
    from benchlib.report.tables import to_markdown

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    md, csv = folder / f"{name}.md", folder / f"{name}.csv"
    data = table.to_csv(index=False).encode("utf-8")
    body = to_markdown(table, precision="full") if markdown is None else markdown
    # Both are written whole under temporary names first, then renamed one after the other (the Markdown
    # first: the inner block ends first): an interrupt or a full disk can no longer leave a Markdown vouching
    # for another CSV (which every later run would refuse as the user's), except in the instant between the
    # two renames.
    with atomic_path(csv) as csv_tmp, atomic_path(md) as md_tmp:
        md_tmp.write_bytes(f"{marker_line(data)}\n{body}\n".encode())
        csv_tmp.write_bytes(data)
    return [md, csv]


def twin_of(csv: Path) -> Path:
    """The Markdown twin that vouches for ``csv``: the same name with ``.md``."""
    return csv.with_name(f"{csv.stem}.md")


def vouched(csv: Path) -> bool:
    """Whether ``csv`` is the CSV its Markdown twin says benchlib wrote (same SHA-256)."""
    twin = twin_of(csv)
    if not twin.is_file():  # missing, a folder, or a FIFO that would block the read
        return False
    try:
        with open(twin, "rb") as handle:
            match = _VOUCHED.match(handle.read(512))
        if match is None:
            return False
        digest = hashlib.sha256()
        with open(csv, "rb") as handle:
            for block in iter(lambda: handle.read(2**20), b""):
                digest.update(block)
    except OSError:
        return False
    return digest.hexdigest() == match.group(1).decode()
