"""``giamdinh bench national-day`` on a tiny day: every key of its JSON, figures that
add up, and a second run that reuses the generated day; ``parse_size``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from claims.bench import measure
from claims.cli.app import app
from claims.cli.sizes import parse_size
from claims.pipeline.partitions import BASE_RSS, RSS_PER_LINE

pytestmark = pytest.mark.e2e  # the day is generated in a process of its own

KEYS = (
    "claims",
    "lines",
    "total_seconds",
    "peak_rss_bytes",
    "stages",
    "ratios",
    "machine",
    "git_commit",
    "seed",
    "memory_budget",
    "baselines",
    "workers",
)
STAGES = (
    "ingest",
    "validate",
    "price",
    "features",
    "assess",
    "pay",
    "decide",
    "write",
    "settle",
)
RATIOS = (
    "ingest_vs_lxml",
    "pricing_vs_duckdb",
    "rules_vs_rule_engine",
    "rules_vs_duckdb",
    "pay_vs_duckdb",
    "settle_vs_duckdb",
)


def _bench(tmp_path: Path, name: str, *extra: str) -> dict[str, Any]:
    out = tmp_path / name
    args = ["bench", "national-day", "--claims", "300", "--seed", "3"]
    args += ["--out", str(out), "--cache", str(tmp_path / "cache"), "--sample", "150"]
    args += ["--facilities", "40"]  # 40 wrappers to read, not 300 of one claim each
    args += ["--folder-claims", "100"]  # the bulk day in 3 or 4 folders
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    assert "national day: 300 claims" in result.stdout
    found: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return found


def _check_figures(data: dict[str, Any]) -> None:
    assert data["claims"] == 300
    assert data["lines"] > data["claims"]  # about 17 lines a claim
    assert data["seed"] == 3
    assert data["facilities"] == 40
    assert data["bulk_folders"] >= 3
    stages = data["stages"]
    assert set(STAGES) <= set(stages)
    for name in STAGES:
        figure = stages[name]
        assert figure["seconds"] > 0, name
        assert figure["rows_per_s"] == pytest.approx(data["lines"] / figure["seconds"])
        assert 0 < figure["peak_rss_bytes"] <= data["peak_rss_bytes"], name
    # every stage after reading (a partitioned day adds its "index" to STAGES)
    after_read = sum(f["seconds"] for s, f in stages.items() if s != "ingest")
    assert data["total_seconds"] >= after_read
    assert data["total_seconds"] == pytest.approx(
        after_read + stages["ingest"]["seconds"]
    )
    xml = data["xml_slice"]
    assert xml["claims"] == 300  # min(N, 100,000): the whole day in XML
    assert xml["lines"] == data["lines"]  # same seed and size: the same claims
    assert stages["ingest"]["seconds"] == pytest.approx(xml["seconds"])
    assert xml["runs"] == -(-xml["files"] // 10) > 1
    assert data["day"]["wall_seconds"] >= sum(
        stages[s]["seconds"] for s in STAGES if s not in ("ingest", "settle")
    )
    assert data["day"]["decided_claims"] == 300
    assert set(data["ratios"]) >= set(RATIOS)
    for name in RATIOS:
        assert data["ratios"][name] > 0, name
    machine = data["machine"]
    assert machine["cores"] >= 1
    assert machine["memory_bytes"] > data["peak_rss_bytes"]
    assert machine["versions"]["polars"]


def test_national_day_json_and_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(measure, "FILES_PER_READ", 10)  # the slice read in 4 runs
    first = _bench(tmp_path, "first.json", "--no-workers-compare")
    assert set(KEYS) <= set(first)
    _check_figures(first)
    assert first["day"]["generated_now"]

    (folder,) = (tmp_path / "cache").glob("day-c300-f40-s3-b100-*")
    kept = [folder / "day.json", *sorted((folder / "bulk").rglob("*.parquet"))]
    kept += sorted((folder / "xml").glob("*.xml"))[:3]
    before = {p: p.stat().st_mtime_ns for p in kept}
    # a budget for about 2,500 lines a partition: 2 or more partitions of whole folders
    budget = BASE_RSS + RSS_PER_LINE * 2_500
    second = _bench(
        tmp_path, "second.json", "--no-workers-compare", "--memory-budget", str(budget)
    )
    assert not second["day"]["generated_now"]
    assert {p: p.stat().st_mtime_ns for p in kept} == before
    _check_figures(second)
    assert second["lines"] == first["lines"]
    assert second["memory_budget"] == budget
    assert first["day"]["partitions"] == 1
    assert second["day"]["partitions"] > 1
    assert second["stages"]["validate"]["calls"] == second["day"]["partitions"]
    assert second["workers"] is None
    assert "not asked" in second["workers_note"]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("8GiB", 8 * 1024**3),
        ("512MiB", 512 * 1024**2),
        ("2GB", 2 * 10**9),
        ("1.5G", 3 * 1024**3 // 2),
        ("4096", 4096),
        (" 16 kib ", 16 * 1024),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "GiB", "8 GiBs", "-1GiB", "0", "8PB", "1e9"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"size|byte"):
        parse_size(text)
