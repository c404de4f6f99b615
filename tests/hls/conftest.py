"""Fixtures for the HLS tests: the real report files and their PROVENANCE.md table."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def provenance_rows() -> list:
    """The PROVENANCE.md table as a list of {column header: cell text} dicts."""
    lines = [ln for ln in (DATA / "PROVENANCE.md").read_text().splitlines()
             if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == len(header), line
        row = dict(zip(header, cells))
        row["saved file"] = row["saved file"].strip("`")
        row["path in repo"] = row["path in repo"].strip("`")
        row["sha256"] = row["sha256"].strip("`")
        rows.append(row)
    return rows


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
