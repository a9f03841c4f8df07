"""The payment benchmark's report: the table printed to stderr, the machine it ran on,
and the problems that make the run fail (a stage not run, a mismatch, a variant not
caught)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.payment_baselines import BASELINES

LABELS = {
    "validate": "read + validate (context)",
    "price": "price (`price_stage`)",
    "assess": "features + assess",
    "pay": "pay (`pay_stage`)",
    "decide": "decide (`decide_stage`)",
    "settle": "settle (`settle`)",
    "postings": "ledger postings (`postings`)",
    "sql-pay": "DuckDB: pay line arithmetic",
    "sql-settle": "DuckDB: settlement groups",
}
ROWS = {
    "validate": "rows in",
    "postings": "groups",
}
"""What a stage's rows are when not lines."""


def physical_mb() -> float:
    """The machine's memory (MB)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20


def machine() -> dict[str, Any]:
    """CPUs, memory and library versions."""
    import duckdb

    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(physical_mb() / 1024),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "duckdb": duckdb.__version__,
        "polars_threads": pl.thread_pool_size(),
    }


def _rate(value: float) -> str:
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.0f}k"


def _stage_row(name: str, r: dict[str, Any]) -> tuple[str, ...]:
    if r.get("killed") or r.get("skipped"):
        why = (
            f"killed at {r['rss_at_kill_mb']:,.0f} MB "
            f"after {r['seconds_before_kill']:.0f} s"
            if r.get("killed")
            else f"not run ({r['skipped']})"
        )
        return (LABELS[name], why, "", "", "", "", "", "", "")
    return (
        LABELS[name],
        f"{r['rows']:,} {ROWS.get(name, 'lines')}",
        f"{r['seconds_best']:.2f}",
        f"{r['seconds_median']:.2f}",
        f"{r['cpu_s_best']:.2f}",
        _rate(r["rows_per_s"]),
        f"{r['read_s']:.2f}",
        f"{r['rss_inputs_mb']:,.0f}",
        f"{r['peak_rss_mb']:,.0f}",
    )


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned text (the first two columns left-aligned), a rule under the head."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    text = [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return text


def _notes(report: dict[str, Any]) -> list[str]:
    """Ratios, the check, the pay profile, batches and load under the table."""
    text = []
    check = report.get("check") or {}
    for stage, ratio in report["engine_over_baseline"].items():
        found = check.get(stage, {})
        text.append(
            f"{stage} / its DuckDB baseline: {ratio:.1f}× (mismatches "
            f"{found.get('mismatches')} of {found.get('compared', 0):,})"
        )
    if check:
        text.append(f"wrong variants (mismatches): {check['variants']}")
    both = report["stages"]["assess"].get("stages_s_best")
    if both:
        text.append(
            "features + assess, each at its best: "
            + ", ".join(f"{k} {s:.2f} s" for k, s in both.items())
        )
    profile = report.get("pay_profile")
    if profile and not profile.get("killed"):
        text.append(
            f"\npay, by step (one run under cProfile, {profile['total_s']:.2f} s):"
        )
        text.extend(f"  {s:7.3f}  {k}" for k, s in profile["steps_s"].items())
        text.append("  of which:")
        text.extend(f"  {s:7.3f}  {k}" for k, s in profile["inside_s"].items())
    parts = report.get("parts")
    if parts:
        claims = ", ".join(f"{p['claims']:,}" for p in parts)
        text.append(
            f"in {len(parts)} batches of whole facilities ({claims} claims): each "
            "stage's time added up over them, its peak RSS the highest"
        )
    loads = [
        x for r in report["stages"].values() for x in r.get("load_avg_1m", [])
    ] or [0.0]
    text.append(
        f"{report['day']['claims']:,} claims, {report['day']['facilities']:,} "
        f"facilities; load average before runs {min(loads):.1f}–{max(loads):.1f} "
        f"on {report['machine']['cpus']} CPUs; children killed above "
        f"{report['max_rss_mb']:,.0f} MB"
    )
    return text


def table(report: dict[str, Any]) -> str:
    """The report as a text table with notes under it."""
    head = (
        "stage",
        "rows",
        "best s",
        "median s",
        "CPU s",
        "rows/s",
        "read s",
        "RSS inputs MB",
        "peak RSS MB",
    )
    rows = [head, *(_stage_row(n, r) for n, r in report["stages"].items())]
    return "\n".join([*_columns(rows), *_notes(report)])


def problems(report: dict[str, Any]) -> list[str]:
    """What makes the run fail: a stage not run, a mismatch, a variant not caught."""
    found = [
        f"{s}: {'killed' if r.get('killed') else 'not run'}"
        for s, r in report["stages"].items()
        if "seconds_best" not in r
    ]
    checked = report["check"]
    if checked is None:
        return [*found, "no check: a stage it needs did not run"]
    variants = checked.get("variants", {})
    found += [
        f"{s}: {checked[s]['mismatches']} mismatches"
        for s in BASELINES.values()
        if checked[s]["mismatches"]
    ]
    found += [
        f"{k}: {v} mismatches"
        for k, v in variants.items()
        if "as the baseline" in k and v
    ]
    found += [
        f"{k}: not caught"
        for k, v in variants.items()
        if "as the baseline" not in k and not v
    ]
    return found
