"""Ingest benchmark: detail lines per second of ``giamdinh ingest`` next to an lxml DOM baseline.

Run: ``python benchmarks/ingest.py --claims 50000`` (generates the data first, seeded).
Both sides read the same files in the same run; the result is printed as a table and
written as JSON (``--json``). The engine side is the daily run,
``claims.pipeline.daily.run_inbox`` (what ``giamdinh ingest`` calls): read, the
pipeline's six stages, run outputs, DuckDB store. The baseline parses each wrapper as a
whole DOM with lxml, base64-decodes each payload and parses each inner document as a
DOM, extracting every field of XML1–XML5 into Python lists: what a straightforward
ingest does.

Then, to show where the time goes, the same files are read again as the daily run reads
them (``scan_and_read``) and go through ``run_stages`` with ``on_stage`` timing each
stage (no store history: it is empty on this first run anyway); what the end-to-end time
has beyond reading and the stages is loading the catalogs and packs, the run outputs,
the receipts and the store.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from claims.config import Settings  # noqa: E402
from claims.pipeline import run_inbox  # noqa: E402
from claims.synthetic import generate  # noqa: E402
from claims.xml130 import PARSED_TABLES  # noqa: E402


def lxml_baseline(files: list[Path]) -> int:
    """Parse every file the simple way; return the number of detail lines read."""
    lines = 0
    for path in files:
        tree = etree.parse(str(path))
        for item in tree.getroot().iter("FILEHOSO"):
            table = (item.findtext("LOAIHOSO") or "").strip()
            spec = PARSED_TABLES.get(table)
            if spec is None:
                continue
            doc = etree.fromstring(base64.b64decode(item.findtext("NOIDUNGFILE") or ""))
            rows = [doc] if not spec.row_path else list(doc.iter(spec.row_element))
            values = [[r.findtext(f.element) for f in spec.fields] for r in rows]
            if table != "XML1":
                lines += len(values)
    return lines


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_times(inbox: Path, settings: Settings) -> dict[str, float]:
    """Seconds to read ``inbox`` as the daily run does, then per stage of the pipeline
    (``run_stages``, timed by ``on_stage``)."""
    from claims.pipeline import Frames, Reference, RunContext, run_stages
    from claims.pipeline.inbox import default_date, scan_and_read

    reference = Reference.load(settings.catalog_dir, settings.pack_id)
    started = time.perf_counter()
    inputs = scan_and_read(sorted(inbox.glob("*.xml")), {}, settings, None)
    seconds = {"read": time.perf_counter() - started}
    subs = tuple(inputs.submissions)
    ctx = RunContext("bench-ingest", default_date(list(subs)), reference, settings)

    def on_stage(name: str, spent: float, _frames: Frames) -> None:
        seconds[name] = spent

    run_stages(ctx, Frames(submissions=subs), on_stage=on_stage)
    return seconds


def main() -> None:
    """Generate, then time the engine's ingest and the baseline on the same files."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=50_000)
    parser.add_argument("--facilities", type=int, default=300)
    parser.add_argument("--work", type=Path, default=Path("bench-work"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.work.exists():
        shutil.rmtree(args.work)
    inbox = args.work / "inbox"
    started = time.perf_counter()
    summary = generate(
        inbox,
        claims=args.claims,
        facilities=args.facilities,
        day=date(2026, 10, 15),
        seed=7,
        error_rate=0.02,
        fmt="xml",
    )
    generated_s = time.perf_counter() - started
    files = sorted(inbox.glob("*.xml"))
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    detail = sum(n for t, n in summary.lines.items() if t != "XML1")

    started = time.perf_counter()
    baseline_lines = lxml_baseline(files)
    baseline_s = time.perf_counter() - started

    settings = Settings(data_dir=args.work / "data")
    started = time.perf_counter()
    result = run_inbox(inbox, settings=settings, move_files=False)
    engine_s = time.perf_counter() - started
    rows_in = int(
        result.counts.filter(result.counts["table"] != "XML1")["rows_in"].sum()
    )
    peak_rss_mb = _peak_rss_mb()
    del result
    breakdown = stage_times(inbox, Settings(data_dir=args.work / "data-stages"))
    breakdown["reference, run outputs, receipts, store (the rest)"] = engine_s - sum(
        breakdown.values()
    )

    report = {
        "claims": summary.claims,
        "detail_lines": detail,
        "files": len(files),
        "input_mb": round(size_mb, 1),
        "generate_s": round(generated_s, 2),
        "baseline_lxml_dom": {
            "seconds": round(baseline_s, 2),
            "lines": baseline_lines,
            "lines_per_s": round(baseline_lines / baseline_s),
        },
        "giamdinh_ingest": {
            "seconds": round(engine_s, 2),
            "lines": rows_in,
            "lines_per_s": round(rows_in / engine_s),
            "mb_per_s": round(size_mb / engine_s, 1),
            "note": "the daily run: read, the six stages, run outputs, DuckDB store",
        },
        "where_the_time_goes_s": {k: round(v, 2) for k, v in breakdown.items()},
        "ratio_engine_vs_baseline": round(baseline_s / engine_s, 2),
        "peak_rss_mb": round(peak_rss_mb),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
