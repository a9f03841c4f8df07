"""A facility's pictures (``claims.anomalies.pictures``) on literal frames, and
``giamdinh anomalies report`` end to end on the session's generated, run day scored
with ``score_period``."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner, Result

from claims.anomalies import (
    CAPTIONS,
    FacilityFrames,
    draw_pictures,
    index_html,
)
from claims.anomalies.pictures import (
    RUG_MAX,
    feature_summary,
    group_words,
    number,
    panel_groups,
    rule_summary,
)
from claims.cli.app import app
from claims.config import Settings
from claims.money import MONEY
from claims.pipeline.anomalies import score_period
from claims.pipeline.pictures import facility_frames
from claims.store.pictures import monthly_medians
from tests.conftest import PERIOD, GeneratedDay

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SIZES = {  # figure inches x 100 dpi
    "cost_distribution": (1200, 900),
    "monthly_trend": (1000, 500),
    "risk_drivers": (1300, 850),
}


def _frames(facility: str = "01001", shift: float = 1.0) -> FacilityFrames:
    own = [Decimal(str(round(250_000 * shift * (1 + i / 10), 2))) for i in range(12)]
    peers = [Decimal(str(100_000 + 7_500 * i)) for i in range(40)]
    costs = pl.DataFrame(
        {
            "ma_cskcb": [facility] * len(own) + ["02002"] * len(peers),
            "ma_lk": [f"LK{i}" for i in range(len(own) + len(peers))],
            "peer_group": ["basic|K01|01|01|J00"] * (len(own) + len(peers)),
            "cost": own + peers,
        },
        schema_overrides={"cost": MONEY},
    )
    months = pl.DataFrame(
        {
            "month": ["2026-08", "2026-08", "2026-09", "2026-09", "2026-10", "2026-10"],
            "own": [True, False] * 3,
            "claims": [10, 40, 11, 38, 12, 40],
            "median_cost": [
                200_000.0,
                180_000.0,
                260_000.0,
                185_000.0,
                380_000.0,
                190_000.0,
            ],
        }
    )
    hits = pl.DataFrame(
        {
            "rule_id": [
                "F14_QUANTITY",
                "F14_QUANTITY",
                "G1_ICD_UNKNOWN",
                "J1_SAME_DAY",
            ],
            "action": ["cap", "cap", "reject", "review"],
            "rejected": [Decimal("12500.50"), Decimal("1000"), Decimal("300000"), None],
        },
        schema_overrides={"rejected": MONEY},
    )
    scores = pl.DataFrame(
        {
            "ma_lk": ["LK0", "LK1", "LK2", "LK3"],
            "t_bhtt": [
                Decimal("100000"),
                Decimal("250000.25"),
                Decimal("50000"),
                Decimal("1"),
            ],
            "risk": [0.99, 0.98, 0.5, 0.0],
            "top_features": ["cost;lines", "cost", "readmits", ""],
        },
        schema_overrides={"t_bhtt": MONEY},
    )
    return FacilityFrames(
        facility, "2026-10", costs, months, hits, scores, "basic", risk=0.875
    )


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk (the first, right after the magic)."""
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _svg_text(data: bytes) -> str:
    root = ET.fromstring(data)
    assert root.tag.endswith("svg")
    return " ".join(" ".join(root.itertext()).split())


def test_pictures_are_valid_png_and_svg_with_vietnamese_words() -> None:
    files = draw_pictures(_frames())
    assert set(files) == {f"{s}.{f}" for s in SIZES for f in ("png", "svg")}
    for stem, size in SIZES.items():
        png = files[f"{stem}.png"]
        assert png.startswith(PNG_MAGIC)
        assert _png_size(png) == size
        assert png.rstrip().endswith(b"IEND\xaeB`\x82")
        text = _svg_text(files[f"{stem}.svg"])
        assert "01001" in text
    cost = _svg_text(files["cost_distribution.svg"])
    assert "Chi phí mỗi hồ sơ của cơ sở 01001 so với nhóm so sánh, kỳ 2026-10" in cost
    assert "(1 nhóm): 12 hồ sơ của cơ sở, 40 hồ sơ của cơ sở khác" in cost
    assert "cấp cơ bản · khoa K01 · tỉnh 01 · loại KCB 01 · chẩn đoán J00" in cost
    # the peers' median of 100.000 + 7.500 i, i < 40: 246.250 đ
    assert "Trung vị nhóm so sánh: 246.250 đ" in cost
    trend = _svg_text(files["monthly_trend.svg"])
    assert "các cơ sở cùng cấp (cấp cơ bản)" in trend
    assert "10/2026" in trend
    drivers = _svg_text(files["risk_drivers.svg"])
    assert "Yếu tố làm tăng rủi ro của cơ sở 01001" in drivers
    assert "(rủi ro cơ sở 0,88: cao hơn 88 % số cơ sở trong kỳ)" in drivers
    assert "F14_QUANTITY (giới hạn)" in drivers
    assert "Chi phí hồ sơ cao" in drivers
    assert "Hồ sơ sát nhau (nghi tách đợt)" in drivers


def test_same_data_same_bytes_other_data_other_bytes() -> None:
    first, again = draw_pictures(_frames()), draw_pictures(_frames())
    assert first == again
    other = draw_pictures(_frames(shift=3.0))
    assert other["cost_distribution.png"] != first["cost_distribution.png"]
    assert other["cost_distribution.svg"] != first["cost_distribution.svg"]
    assert other["risk_drivers.svg"] == first["risk_drivers.svg"]


def test_a_large_facility_is_drawn_as_bars_without_a_tick_per_claim() -> None:
    frames = _frames()

    def svg_of(n: int) -> bytes:
        costs = pl.DataFrame(
            {
                "ma_cskcb": [frames.facility] * n,
                "ma_lk": [f"X{i}" for i in range(n)],
                "peer_group": ["basic|K01|01|01|J00"] * n,
                "cost": [Decimal(100_000 + 10 * i) for i in range(n)],
            },
            schema_overrides={"cost": MONEY},
        )
        drawn = FacilityFrames(
            frames.facility,
            frames.period,
            costs,
            frames.months,
            frames.hits,
            frames.scores,
        )
        return draw_pictures(drawn, ["svg"])["cost_distribution.svg"]

    ticked, unticked = svg_of(RUG_MAX), svg_of(RUG_MAX + 1)
    # two ticks per claim (all groups, and the claim's group), under 100 otherwise
    assert ticked.count(b"<use") >= 2 * RUG_MAX
    assert unticked.count(b"<use") < 100
    assert len(unticked) < len(ticked) / 5


def test_formats_and_refusals() -> None:
    svg_only = draw_pictures(_frames(), ["svg"])
    assert sorted(svg_only) == sorted(f"{s}.svg" for s in SIZES)
    with pytest.raises(ValueError, match=r"\['pdf'\] are not among"):
        draw_pictures(_frames(), ["pdf"])


def test_rules_and_features_summaries() -> None:
    rules = rule_summary(_frames().hits)
    assert rules["rule_id"].to_list() == [
        "F14_QUANTITY",
        "G1_ICD_UNKNOWN",
        "J1_SAME_DAY",
    ]
    assert rules["hits"].to_list() == [2, 1, 1]
    assert rules["label"].to_list() == [
        "F14_QUANTITY (giới hạn)",
        "G1_ICD_UNKNOWN (từ chối)",
        "J1_SAME_DAY (chuyển giám định)",
    ]
    assert rules["rejected"].to_list() == [
        Decimal("13500.50"),
        Decimal("300000"),
        Decimal("0"),
    ]
    features = feature_summary(_frames().scores)
    assert features["feature"].to_list() == ["cost", "lines", "readmits"]
    assert features["claims"].to_list() == [2, 1, 1]
    assert features["money"].to_list() == [
        Decimal("350000.25"),
        Decimal("100000"),
        Decimal("50000"),
    ]
    assert features["words"][0] == "Chi phí hồ sơ cao"
    unnamed = feature_summary(
        _frames().scores.with_columns(top_features=pl.lit("new_one"))
    )
    assert unnamed["words"].to_list() == ["new_one"]
    assert number(1234567.4) == "1.234.567"
    assert group_words("specialised|*|*|02|*") == (
        "cấp chuyên sâu · mọi khoa · mọi tỉnh · loại KCB 02 · mọi chẩn đoán"
    )


def test_panels_prefer_groups_with_other_facilities() -> None:
    def rows(facility: str, groups: dict[str, int]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "ma_cskcb": facility,
                "peer_group": [g for g, n in groups.items() for _ in range(n)],
            }
        )

    own = rows("01001", {"alone": 9, "big": 5, "small": 2, "tie": 2})
    peers = rows("02002", {"big": 1, "small": 7, "tie": 1})
    assert panel_groups(own, peers, 3) == ["big", "small", "tie"]
    assert panel_groups(own, peers, 4) == ["big", "small", "tie", "alone"]
    assert panel_groups(own, peers.clear(), 2) == ["alone", "big"]


def test_rules_that_rejected_nothing_show_no_money_ticks() -> None:
    frames = _frames()
    nothing = FacilityFrames(
        frames.facility,
        frames.period,
        frames.costs,
        frames.months,
        frames.hits.with_columns(rejected=pl.lit(Decimal(0), MONEY)),
        frames.scores,
    )

    def labels(drawn: FacilityFrames) -> list[str]:
        root = ET.fromstring(draw_pictures(drawn, ["svg"])["risk_drivers.svg"])
        return [
            "".join(t.itertext()).strip()
            for t in root.iter()
            if t.tag.endswith("}text")
        ]

    def money_panel(texts: list[str]) -> list[str]:
        """The texts of the rules' money panel (its ticks, or what it says)."""
        start = texts.index("Số lần quy tắc bị vi phạm") + 1
        return texts[start : texts.index("Số tiền bị từ chối")]

    assert "300.000 đ" in money_panel(labels(frames))
    assert money_panel(labels(nothing)) == ["0 đ"]


def test_nothing_to_show_is_said_not_drawn_empty() -> None:
    frames = _frames()
    empty = FacilityFrames(
        frames.facility,
        frames.period,
        frames.costs.clear(),
        frames.months.clear(),
        frames.hits.clear(),
        frames.scores.with_columns(top_features=pl.lit("")),
    )
    files = draw_pictures(empty, ["svg"])
    assert "Không có hồ sơ nào có chi phí trong kỳ" in _svg_text(
        files["cost_distribution.svg"]
    )
    assert "Kho chưa có hồ sơ nào" in _svg_text(files["monthly_trend.svg"])
    drivers = _svg_text(files["risk_drivers.svg"])
    assert "Không có quy tắc nào bị vi phạm trong kỳ" in drivers
    assert "Không hồ sơ nào có đặc điểm cách xa nhóm so sánh" in drivers


def test_index_lists_every_file_with_its_caption() -> None:
    names = sorted(draw_pictures(_frames()))
    page = index_html("01001", "2026-10", names).decode("utf-8")
    assert '<html lang="vi">' in page
    for name in names:
        assert f'href="{name}"' in page
    for caption in CAPTIONS.values():
        assert caption in page
    assert page.count("<img ") == len(SIZES)  # each picture shown once, as PNG
    assert all(f'<img src="{s}.png"' in page for s in SIZES)
    svg_only = index_html("01001", "2026-10", [n for n in names if n.endswith(".svg")])
    assert all(f'<img src="{s}.svg"' in svg_only.decode("utf-8") for s in SIZES)


def test_monthly_medians_of_the_facility_and_its_peers(tmp_path: Path) -> None:
    rows = [  # ma_cskcb, year, month, cost, current, withdrawn
        ("A", 2025, 10, 100, True, False),  # 13 months back: outside the window
        ("A", 2025, 11, 200, True, False),
        ("A", 2025, 11, 400, True, False),
        ("A", 2025, 11, 900, False, False),  # an older version
        ("B", 2025, 11, 50, True, False),
        ("C", 2025, 11, 70, True, False),
        ("A", 2026, 10, 300, True, False),
        ("A", 2026, 10, 800, True, True),  # withdrawn
        ("B", 2026, 10, 60, True, False),
        ("Z", 2026, 10, 5, True, False),  # not a peer
        ("A", 2026, 11, 1000, True, False),  # after the period
    ]
    path = tmp_path / "store.duckdb"
    with duckdb.connect(str(path)) as con:
        con.sql(
            "CREATE TABLE claims (ma_cskcb VARCHAR, nam_qt BIGINT, thang_qt BIGINT, "
            "t_tongchi_bv DECIMAL(18, 2), is_current BOOLEAN, withdrawn BOOLEAN)"
        )
        con.executemany("INSERT INTO claims VALUES (?, ?, ?, ?, ?, ?)", rows)
    with duckdb.connect(str(path), read_only=True) as con:
        months = monthly_medians(con, "A", ["A", "B", "C"], (2025, 11), (2026, 10))
    assert months.rows() == [
        ("2025-11", False, 2, 60.0),
        ("2025-11", True, 2, 300.0),
        ("2026-10", False, 1, 60.0),
        ("2026-10", True, 1, 300.0),
    ]


@pytest.fixture(scope="module")
def scored(
    generated_day: GeneratedDay, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """A copy of the session's generated day (run by ``run_inbox``), scored."""
    settings = generated_day.copy(tmp_path_factory.mktemp("pictures") / "data")
    score_period(settings, PERIOD)
    return settings


def _invoke(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(
        app, ["anomalies", "report", *args, "--data-dir", str(settings.data_dir)]
    )


def _said(result: Result) -> str:
    return " ".join(result.output.split())


def _riskiest(settings: Settings) -> str:
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        rows = con.sql(
            "SELECT ma_cskcb FROM anomaly_facilities ORDER BY risk DESC, ma_cskcb LIMIT 1"
        ).fetchall()
    return str(rows[0][0])


def test_report_writes_the_pictures_and_index(scored: Settings) -> None:
    facility = _riskiest(scored)
    result = _invoke(scored, "--period", PERIOD, "--facility", facility)
    assert result.exit_code == 0, result.output
    folder = scored.data_dir / "reports" / "anomalies" / PERIOD / facility
    written = sorted(p.name for p in folder.iterdir())
    assert written == sorted(
        ["index.html", *(f"{s}.{f}" for s in SIZES for f in ("png", "svg"))]
    )
    assert f"wrote 7 files for facility {facility}" in _said(result)
    for stem, size in SIZES.items():
        assert _png_size((folder / f"{stem}.png").read_bytes()) == size
        assert facility in _svg_text((folder / f"{stem}.svg").read_bytes())
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{s}.png"' in index for s in SIZES)
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    again = _invoke(scored, "--period", PERIOD, "--facility", facility)
    assert again.exit_code == 0, again.output
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == first


def test_report_reads_the_facility_from_the_store(scored: Settings) -> None:
    facility = _riskiest(scored)
    frames = facility_frames(scored, PERIOD, facility)
    with duckdb.connect(str(scored.store_path), read_only=True) as con:
        claims, hits = con.sql(
            "SELECT count(DISTINCT (c.file_id, c.hoso_idx)), count(h.rule_id) "
            "FROM claims c LEFT JOIN rule_hits h ON h.file_id = c.file_id "
            "AND h.hoso_idx = c.hoso_idx AND h.run_id = c.run_id "
            "WHERE c.is_current AND NOT c.withdrawn AND c.ma_cskcb = ?",
            params=[facility],
        ).fetchall()[0]
    assert frames.scores.height == claims > 0
    assert frames.costs.filter(pl.col("ma_cskcb") == facility).height == claims
    assert frames.hits.height == hits > 0
    with duckdb.connect(str(scored.store_path), read_only=True) as con:
        stored = con.sql(
            "SELECT risk, level FROM anomaly_facilities WHERE ma_cskcb = ?",
            params=[facility],
        ).fetchall()
    assert (frames.risk, frames.level) == stored[0]
    own = frames.months.filter(pl.col("own"))
    assert own.select("month", "claims").rows() == [(PERIOD, claims)]


def test_report_svg_only_to_a_folder_given(scored: Settings, tmp_path: Path) -> None:
    facility = _riskiest(scored)
    out = tmp_path / "pictures"
    result = _invoke(
        scored,
        "--period",
        PERIOD,
        "--facility",
        facility,
        "--out",
        str(out),
        "--format",
        "svg",
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["index.html", *(f"{s}.svg" for s in SIZES)]
    )


def test_report_errors_name_the_fix(scored: Settings) -> None:
    never = _invoke(scored, "--period", "2026-09", "--facility", "01001")
    assert never.exit_code == 1
    assert "no anomaly scores of 2026-09" in _said(never)
    assert "giamdinh anomalies run --period 2026-09" in _said(never)
    unknown = _invoke(scored, "--period", PERIOD, "--facility", "NO-SUCH")
    assert unknown.exit_code == 1
    assert f"facility 'NO-SUCH' has no scored claim in {PERIOD}" in _said(unknown)
    assert _riskiest(scored) in _said(unknown)
    month = _invoke(scored, "--period", "2026-13", "--facility", "01001")
    assert month.exit_code == 1
    assert "is not a month YYYY-MM" in _said(month)
