"""The day-wide index of a partitioned run keeps, of each partition, exactly the claims
that share a patient, a practitioner or a facility with another partition (the
straddle tests in test_partitions.py show that this is all a history needs)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from claims.store import DAY_COLUMNS, build_day_index


def _card(patient: str) -> str:
    return f"DN479{patient}"  # characters 6–15 are the patient


def _partition(
    folder: Path,
    claims: list[tuple[str, str, str]],
    lines: list[tuple[str, str | None, str | None]],
) -> Path:
    """A read folder: ``claims`` as (MA_LK, patient, MA_CSKCB), hoso_idx in order;
    ``lines`` as (MA_LK, MA_BAC_SI, NGUOI_THUC_HIEN), one XML3 and one XML2 row each."""
    tables = folder / "tables"
    tables.mkdir(parents=True)
    idx = {lk: n for n, (lk, _, _) in enumerate(claims)}
    file_id = folder.name

    def frame(name: str, rows: dict[str, list[object]]) -> None:
        height = len(next(iter(rows.values())))
        full = {c: rows.get(c, [None] * height) for c in DAY_COLUMNS[name]}
        schema = {c: pl.UInt32 if c == "hoso_idx" else pl.String for c in full}
        pl.DataFrame(full, schema=schema).with_columns(
            pl.lit("extra").alias("not_read")
        ).write_parquet(tables / f"{name}.parquet")

    frame(
        "XML1",
        {
            "file_id": [file_id] * len(claims),
            "hoso_idx": list(range(len(claims))),
            "ma_lk": [lk for lk, _, _ in claims],
            "ma_the_bhyt": [_card(p) for _, p, _ in claims],
            "ma_cskcb": [f for _, _, f in claims],
        },
    )
    line_rows: dict[str, list[object]] = {
        "file_id": [file_id] * len(lines),
        "hoso_idx": [idx[lk] for lk, _, _ in lines],
        "ma_bac_si": [d for _, d, _ in lines],
        "nguoi_thuc_hien": [p for _, _, p in lines],
    }
    frame("XML3", line_rows)
    frame("XML2", {k: line_rows[k] for k in ("file_id", "hoso_idx")})
    return folder


def _kept(index: Path, table: str) -> list[str]:
    claims = pl.read_parquet(index / "tables" / "XML1.parquet")
    rows = pl.read_parquet(index / "tables" / f"{table}.parquet")
    assert rows.columns == DAY_COLUMNS[table]  # nothing more is carried
    named = rows.join(claims.select("hoso_idx", "ma_lk"), on="hoso_idx")
    return sorted(named["ma_lk"].to_list())


def test_the_index_keeps_the_claims_that_share_a_key_and_nothing_else(
    tmp_path: Path,
) -> None:
    a = _partition(
        tmp_path / "read-a",
        [
            ("A1", "0000000001", "01001"),  # patient 1 is seen in b too
            ("A2", "0000000002", "01001"),  # patient 2 only here
            ("A3", "0000000003", "01001"),  # its doctor D1 performs in b
            ("A4", "0000000004", "01009"),  # facility 01009 also has claims in b
        ],
        [("A1", "D9", None), ("A2", "D8", "D8"), ("A3", "D1", None), ("A4", "", "")],
    )
    b = _partition(
        tmp_path / "read-b",
        [
            ("B1", "0000000001", "02002"),
            ("B2", "0000000005", "02002"),
            ("B3", "0000000006", "02002"),
            ("B4", "0000000007", "01009"),
        ],
        [("B1", "D7", None), ("B2", "D6", "X5; D1 "), ("B3", "D5", ""), ("B4", "", "")],
    )
    c = _partition(tmp_path / "read-c", [("C1", "0000000008", "03003")], [])
    out = [tmp_path / "index" / n for n in ("a", "b", "c")]

    build_day_index([a, b, c], out)

    assert _kept(out[0], "XML1") == ["A1", "A3", "A4"]
    assert _kept(out[1], "XML1") == ["B1", "B2", "B4"]
    assert _kept(out[2], "XML1") == []
    for index, lines in ((out[0], ["A1", "A3", "A4"]), (out[1], ["B1", "B2", "B4"])):
        assert _kept(index, "XML3") == lines
        assert _kept(index, "XML2") == lines
    # every claim's key, kept or not: a stored claim any of them re-submits is hidden
    keys = pl.read_parquet(out[0] / "keys.parquet")
    assert keys.columns == ["ma_cskcb", "ma_lk"]
    assert sorted(keys["ma_lk"].to_list()) == ["A1", "A2", "A3", "A4"]
    assert pl.read_parquet(out[2] / "keys.parquet")["ma_lk"].to_list() == ["C1"]
