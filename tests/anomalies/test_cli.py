"""``giamdinh anomalies run|evaluate|explain`` end to end on a generated, run day."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner, Result

from claims.cli.app import app
from claims.config import Settings
from tests.conftest import PERIOD, GeneratedDay


@pytest.fixture
def scored(generated_day: GeneratedDay, tmp_path: Path) -> Settings:
    """A copy of the session's generated day, scored for its period."""
    settings = generated_day.copy(tmp_path / "data")
    result = _invoke(settings, "run", "--period", PERIOD)
    assert result.exit_code == 0, result.output
    assert "scored" in result.output
    return settings


def _invoke(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(
        app, ["anomalies", *args, "--data-dir", str(settings.data_dir)]
    )


def _said(result: Result) -> str:
    """What a command printed, its line wrapping undone."""
    return " ".join(result.output.split())


def _sql(settings: Settings, query: str) -> pl.DataFrame:
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        frame: pl.DataFrame = con.sql(query).pl()
    return frame


def test_run_scores_every_current_claim_once(scored: Settings) -> None:
    claims = _sql(
        scored,
        "SELECT count(*) AS n FROM claims WHERE is_current AND NOT withdrawn "
        "AND nam_qt = 2026 AND thang_qt = 10",
    )["n"][0]
    rows = _sql(scored, "SELECT * FROM anomaly_scores")
    assert rows.height == claims > 0
    assert rows.select("ma_cskcb", "ma_lk").n_unique() == claims
    assert rows["risk"].is_between(0, 1).all()
    assert rows["explanation"].str.contains("so với nhóm").all()
    assert rows["scoring_id"].n_unique() == 1
    again = _invoke(scored, "run", "--period", PERIOD)
    assert again.exit_code == 0, again.output
    after = _sql(scored, "SELECT * FROM anomaly_scores")
    assert after.height == claims
    assert after.sort("ma_cskcb", "ma_lk").equals(rows.sort("ma_cskcb", "ma_lk"))
    facilities = _sql(scored, "SELECT * FROM anomaly_facilities")
    assert facilities.height == rows["ma_cskcb"].n_unique()


def test_evaluate_json_against_a_truth_of_stored_claims(
    scored: Settings, tmp_path: Path
) -> None:
    rows = _sql(scored, "SELECT ma_cskcb, ma_lk, risk FROM anomaly_scores").sort(
        "risk", "ma_cskcb", "ma_lk", descending=[True, False, False]
    )
    n = rows.height
    top, bottom = rows.head(3), rows.tail(3)
    truth = pl.concat(
        [
            top.select(
                "ma_cskcb", "ma_lk", kind=pl.lit("cost"), category=pl.lit("anomaly")
            ),
            bottom.select(
                "ma_cskcb", "ma_lk", kind=pl.lit("mix"), category=pl.lit("anomaly")
            ),
            bottom.select(
                "ma_cskcb", "ma_lk", kind=pl.lit("x"), category=pl.lit("fault")
            ),
        ]
    )
    path = tmp_path / "truth.csv"
    truth.write_csv(path)
    capacity = 3 / n  # exactly the three riskiest claims
    result = _invoke(
        scored,
        "evaluate",
        "--truth",
        str(path),
        "--capacity",
        f"{capacity!r}",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body["overall"]) >= {"precision", "recall", "money_recall"}
    assert body["overall"]["precision"] == pytest.approx(1.0)
    assert body["overall"]["recall"] == pytest.approx(0.5)
    assert set(body["kinds"]) == {"cost", "mix"}
    assert body["kinds"]["cost"]["recall"] == pytest.approx(1.0)
    assert body["kinds"]["mix"]["recall"] == pytest.approx(0.0)
    parquet = tmp_path / "truth.parquet"
    truth.write_parquet(parquet)
    table = _invoke(scored, "evaluate", "--truth", str(parquet), "--period", PERIOD)
    assert table.exit_code == 0, table.output
    assert "overall" in _said(table)
    assert "money_recall" in _said(table)


def test_evaluate_refuses_bad_truth(scored: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    pl.DataFrame({"ma_cskcb": ["01001"], "ma_lk": ["X"]}).write_csv(missing)
    result = _invoke(scored, "evaluate", "--truth", str(missing))
    assert result.exit_code == 1
    assert "lacks the column(s) kind" in _said(result)
    stranger = tmp_path / "stranger.csv"
    pl.DataFrame({"ma_cskcb": ["99999"], "ma_lk": ["X"], "kind": ["cost"]}).write_csv(
        stranger
    )
    result = _invoke(scored, "evaluate", "--truth", str(stranger))
    assert result.exit_code == 1
    assert "none of them among the scored claims" in _said(result)
    result = _invoke(
        scored, "evaluate", "--truth", str(stranger), "--period", "2026-09"
    )
    assert result.exit_code == 1
    assert "no anomaly scores of 2026-09" in _said(result)


def test_explain_a_claim_in_words(scored: Settings) -> None:
    top = _sql(
        scored, "SELECT ma_cskcb, ma_lk FROM anomaly_scores ORDER BY risk DESC LIMIT 1"
    ).row(0)
    result = _invoke(scored, "explain", *top)
    assert result.exit_code == 0, result.output
    text = _said(result)
    assert f"{PERIOD} {top[0]}/{top[1]} risk" in text
    assert "trung vị nhóm" in text
    assert "so với nhóm" in text
    unknown = _invoke(scored, "explain", top[0], "NO-SUCH-CLAIM")
    assert unknown.exit_code == 1
    assert "has no anomaly score" in _said(unknown)


def test_run_refuses_a_period_that_is_not_a_month(generated_day: GeneratedDay) -> None:
    result = _invoke(generated_day.settings, "run", "--period", "2026-Q4")
    assert result.exit_code == 1
    assert "is not a month YYYY-MM" in _said(result)
