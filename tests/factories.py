"""Build submissions for tests from the example claim, with any field changed."""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import yaml
from lxml import etree

from catalogs.loader import catalog_dir
from claims.xml130 import PARSED_TABLES

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = FIXTURES / "good" / "one-claim.xml"

Row = dict[str, str | None]
Claim = dict[str, list[Row]]


def example_claim() -> Claim:
    """The example file's claim: table → rows of raw text values (upper-case elements)."""
    root = etree.parse(str(EXAMPLE)).getroot()
    claim: Claim = {}
    for item in root.iter("FILEHOSO"):
        table = item.findtext("LOAIHOSO")
        doc = etree.fromstring(base64.b64decode(item.findtext("NOIDUNGFILE") or ""))
        spec = PARSED_TABLES[table]
        rows = [doc] if not spec.row_path else list(doc.iter(spec.row_element))
        claim[table] = [
            {f.element: r.findtext(f.element) or None for f in spec.fields}
            for r in rows
        ]
    return claim


def with_key(claim: Claim, ma_lk: str) -> Claim:
    """A copy of ``claim`` whose every table carries MA_LK ``ma_lk``."""
    out = copy.deepcopy(claim)
    for rows in out.values():
        for row in rows:
            row["MA_LK"] = ma_lk
    return out


def table_xml(table: str, rows: list[Row]) -> bytes:
    """One inner document of ``table`` holding ``rows``."""
    spec = PARSED_TABLES[table]

    def record(row: Row, tag: str) -> str:
        body = "".join(f"<{k}>{escape(v or '')}</{k}>" for k, v in row.items())
        return f"<{tag}>{body}</{tag}>"

    if not spec.row_path:
        inner = record(rows[0], spec.root)
    else:
        items = "".join(record(r, spec.row_element) for r in rows)
        inner = f"<{spec.root}><{spec.row_path[0]}>{items}</{spec.row_path[0]}></{spec.root}>"
    return ('<?xml version="1.0" encoding="utf-8"?>' + inner).encode()


def hoso(claim: Claim, payloads: dict[str, bytes] | None = None) -> str:
    """One HOSO element; ``payloads`` overrides a table's base64 text (raw bytes)."""
    parts = []
    for table, rows in claim.items():
        if payloads and table in payloads:
            data = payloads[table].decode("ascii", "replace")
        else:
            data = base64.b64encode(table_xml(table, rows)).decode("ascii")
        parts.append(
            f"<FILEHOSO><LOAIHOSO>{table}</LOAIHOSO><NOIDUNGFILE>{data}</NOIDUNGFILE></FILEHOSO>"
        )
    return "<HOSO>" + "".join(parts) + "</HOSO>"


def wrapper(
    hosos: list[str], sender: str = "01030", declared: int | None = None
) -> bytes:
    """A GIAMDINHHS file holding ``hosos``."""
    count = len(hosos) if declared is None else declared
    return (
        '<?xml version="1.0" encoding="utf-8"?><GIAMDINHHS>'
        f"<THONGTINDONVI><MACSKCB>{sender}</MACSKCB></THONGTINDONVI>"
        f"<THONGTINHOSO><NGAYLAP>20251006</NGAYLAP><SOLUONGHOSO>{count}</SOLUONGHOSO>"
        f"<DANHSACHHOSO>{''.join(hosos)}</DANHSACHHOSO></THONGTINHOSO>"
        "<CHUKYDONVI></CHUKYDONVI></GIAMDINHHS>"
    ).encode()


def giamdinh(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``giamdinh`` command line as a real process (wide tables, text output)."""
    code = "from claims.cli.app import app; app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "COLUMNS": "250"},
    )


def lower_benefit_level_4(root: Path) -> Path:
    """A catalog overlay at ``root`` where benefit level 4 pays 70 % instead of 80 %
    (the built-in ``benefits`` version 2009-07-01, its hash updated); ``root``."""
    target = root / "benefits" / "2009-07-01"
    shutil.copytree(catalog_dir("benefits") / "2009-07-01", target)
    rows = (target / "rows.csv").read_text(encoding="utf-8")
    changed = rows.replace("benefit_level,4,,,,80,", "benefit_level,4,,,,70,")
    assert changed != rows
    (target / "rows.csv").write_text(changed, encoding="utf-8")
    manifest = yaml.safe_load((target / "manifest.yaml").read_text(encoding="utf-8"))
    manifest["sha256"] = hashlib.sha256(changed.encode()).hexdigest()
    (target / "manifest.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    return root
