"""Signature verification benchmark: seconds and peak memory per MB of a signed file.

Run: ``python benchmarks/signature.py`` (``--sizes 1 10 100``: about that many MB).
Each size is one generated facility file (seed 21) signed with the generator's test key
(``claims.synthetic.sign``). Each measurement runs in a fresh process: the verification
as intake does it with signatures mandatory (``claims.intake.check_signature``; a
generated file is in canonical form, so this is the byte-digest path of
``claims.intake.canonical``), the signxml path on the same file (lxml parse of the whole
file, then ``verify_tree``: what a file not in canonical form costs), and, for
comparison, the same file read by intake without any check (``read_submission``). Peak RSS is
the child's high-water mark (``VmHWM``, reset before the measurement) above the RSS it
held just before it. The ingest target is
130,000 detail lines (XML2 + XML3 rows) a second; the verification's share of that
budget is its time over the time the file's lines may take.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_LINES_PER_SECOND = 130_000
CLAIMS_PER_MB = 50
"""Generated claims per MB of wrapper, about (inpatient claims are large)."""


def _measure(path: str, mode: str, queue: Any) -> None:
    from lxml import etree

    from claims.config import Settings
    from claims.intake import check_signature, read_submission, scan_submission
    from claims.intake.signature import verify_tree
    from claims.pipeline.inbox import signature_policy

    policy = signature_policy(Settings(signatures_required_from=date(2026, 1, 1)))
    assert policy is not None
    file = Path(path)
    scan = scan_submission(file, max_bytes=1 << 40)
    base = _reset_peak()
    start = time.perf_counter()
    if mode == "fast":
        refused = check_signature(
            file, policy, sender=file.name[:5], ngay_lap="20261015", tail=scan.edges
        )
        assert refused is None, refused
    elif mode == "signxml":
        parser = etree.XMLParser(resolve_entities=False, huge_tree=True)
        root = etree.fromstring(file.read_bytes(), parser)
        refused = verify_tree(root, policy, file.name[:5], date(2026, 10, 15))
        assert refused is None, refused
    else:
        read = read_submission(file, max_bytes=1 << 40, scan=scan)
        assert not hasattr(read, "reason"), read
    seconds = time.perf_counter() - start
    queue.put((seconds, _status("VmHWM") - base))


def _status(field: str) -> int:
    """A ``/proc/self/status`` memory field, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _reset_peak() -> int:
    """Reset the process's peak RSS (Linux ``clear_refs`` 5); the RSS now."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def _child(path: Path, mode: str) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(str(path), mode, queue))
    process.start()
    result: tuple[float, int] = queue.get()
    process.join()
    return result


def _file(folder: Path, megabytes: int) -> tuple[Path, int]:
    """A signed one-facility file of about ``megabytes`` MB, and its detail lines."""
    from claims.synthetic import generate_day, write_xml

    day = generate_day(claims=megabytes * CLAIMS_PER_MB, facilities=1, seed=21)
    lines = day.tables["XML2"].height + day.tables["XML3"].height
    (path,) = write_xml(day, folder / f"{megabytes}mb", sign=True)
    return path, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/giamdinh-sigbench"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        path, lines = _file(args.work, size)
        mb = path.stat().st_size / 1e6
        budget = lines / TARGET_LINES_PER_SECOND
        row: dict[str, Any] = {"mb": round(mb, 1), "detail_lines": lines}
        row["target_s_per_mb"] = round(budget / mb, 4)
        for mode in ("fast", "signxml", "read"):
            runs = [_child(path, mode) for _ in range(args.repeat)]
            seconds = statistics.median(r[0] for r in runs)
            row[f"{mode}_s_per_mb"] = round(seconds / mb, 4)
            row[f"{mode}_peak_mb"] = round(max(r[1] for r in runs) / 1e6)
            row[f"{mode}_x_target"] = round(seconds / budget, 2)
        rows.append(row)
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
