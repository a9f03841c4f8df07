"""Bitemporal resolution: stacked versions answer like a naive lookup; corrections apply
only to queries recorded after them; facility rows override national ones."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from catalogs.loader import CatalogVersion
from catalogs.resolve import VERSION, as_of, effective, resolve
from catalogs.schema import SERVICES
from tests.catalogs.helpers import version

CODES = ("A", "B", "C")
DAY0 = date(2024, 1, 1)
T0 = datetime(2024, 1, 1)


def _rows(prices: dict[str, int], facility: str | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ma_cskcb": [facility] * len(prices),
            "ma_dich_vu": list(prices),
            "ten_dich_vu": list(prices),
            "ma_nhom": [1] * len(prices),
            "don_gia": [Decimal(p) for p in prices.values()],
            "max_per_day": [None] * len(prices),
            "tyle_tt_bh": [None] * len(prices),
            "valid_from": [None] * len(prices),
            "valid_to": [None] * len(prices),
        },
        schema=SERVICES.polars_schema,
    )


def _lookup(
    resolved: pl.DataFrame, code: str, day: date, facility: str = "01001"
) -> object:
    lines = pl.DataFrame(
        {"ma_cskcb": [facility], "code": [code], "d": [day]},
        schema={"ma_cskcb": pl.String, "code": pl.String, "d": pl.Date},
    )
    found = as_of(
        lines, resolved, code=("code", "ma_dich_vu"), on="d", columns=["don_gia"]
    )
    return found["don_gia"][0]


releases = st.lists(
    st.tuples(
        st.integers(0, 700),  # effective day offset
        st.dictionaries(st.sampled_from(CODES), st.integers(1, 10**6), min_size=1),
        st.one_of(st.none(), st.integers(0, 200)),  # effective_to length, if any
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda r: r[0],
)


@given(
    releases,
    st.lists(
        st.tuples(st.integers(-10, 1000), st.sampled_from(CODES)),
        min_size=1,
        max_size=15,
    ),
)
def test_stacked_versions_answer_like_a_naive_lookup(
    spec: list[tuple[int, dict[str, int], int | None]], queries: list[tuple[int, str]]
) -> None:
    versions: list[CatalogVersion] = []
    for offset, prices, length in spec:
        start = DAY0 + timedelta(days=offset)
        end = None if length is None else start + timedelta(days=length)
        name = start.isoformat()
        versions.append(
            version("services", name, _rows(prices), recorded_at=T0, effective_to=end)
        )
    resolved = resolve(versions)

    def naive(code: str, day: date) -> object:
        started = [v for v in versions if v.manifest.effective_from <= day]
        if not started:
            return None
        latest = max(started, key=lambda v: v.manifest.effective_from)
        end = latest.manifest.effective_to
        if end is not None and day > end:
            return None
        hit = latest.rows.filter(pl.col("ma_dich_vu") == code)["don_gia"]
        return hit[0] if hit.len() else None

    for offset, code in queries:
        day = DAY0 + timedelta(days=offset)
        assert _lookup(resolved, code, day) == naive(code, day)


@given(
    st.dictionaries(st.sampled_from(CODES), st.integers(1, 10**6), min_size=1),
    st.dictionaries(st.sampled_from(CODES), st.integers(1, 10**6), min_size=1),
    st.integers(1, 400),
    st.lists(st.integers(0, 800), min_size=1, max_size=8),
)
def test_a_correction_changes_only_answers_recorded_after_it(
    first: dict[str, int],
    fixed: dict[str, int],
    delay: int,
    recorded_offsets: list[int],
) -> None:
    original = version("services", "2024-03-01", _rows(first), recorded_at=T0)
    correction = version(
        "services", "2024-03-01.2", _rows(fixed), recorded_at=T0 + timedelta(days=delay)
    )
    both = [original, correction]
    day = date(2024, 3, 10)
    for offset in recorded_offsets:
        known = T0 + timedelta(days=offset)
        resolved = resolve(both, known) if known >= T0 else None
        if resolved is None:
            continue
        source = fixed if known >= correction.manifest.recorded_at else first
        for code in CODES:
            expected = Decimal(source[code]) if code in source else None
            assert _lookup(resolved, code, day) == expected
    # the corrected version is never deleted: asked before the correction, it answers
    early = resolve(both, T0)
    assert set(early[VERSION]) <= {original.label}


def test_the_later_recorded_correction_wins_whatever_the_folder_order() -> None:
    a = version(
        "services", "2024-03-01", _rows({"A": 10}), recorded_at=T0 + timedelta(days=5)
    )
    b = version("services", "2024-03-01.2", _rows({"A": 20}), recorded_at=T0)
    spans = effective([a, b])
    assert [v.manifest.version for v, _, _ in spans] == ["2024-03-01"]
    assert _lookup(resolve([a, b]), "A", date(2024, 3, 1)) == Decimal(10)


def test_a_later_effective_date_supersedes_from_that_date() -> None:
    old = version("services", "2024-01-01", _rows({"A": 10, "B": 5}), recorded_at=T0)
    new = version("services", "2024-07-01", _rows({"A": 12}), recorded_at=T0)
    resolved = resolve([old, new])
    assert _lookup(resolved, "A", date(2024, 6, 30)) == Decimal(10)
    assert _lookup(resolved, "A", date(2024, 7, 1)) == Decimal(12)
    # a full snapshot: B, absent from the new version, is no longer valid
    assert _lookup(resolved, "B", date(2024, 6, 30)) == Decimal(5)
    assert _lookup(resolved, "B", date(2024, 7, 1)) is None


def test_facility_row_overrides_national_row_and_falls_back_outside_its_window() -> (
    None
):
    national = _rows({"A": 100})
    own = _rows({"A": 80}, facility="01001").with_columns(
        valid_from=pl.lit(date(2024, 2, 1)), valid_to=pl.lit(date(2024, 2, 29))
    )
    resolved = resolve(
        [version("services", "2024-01-01", pl.concat([national, own]), recorded_at=T0)]
    )
    assert _lookup(resolved, "A", date(2024, 2, 10)) == Decimal(80)
    assert _lookup(resolved, "A", date(2024, 2, 10), facility="01002") == Decimal(100)
    assert _lookup(resolved, "A", date(2024, 3, 1)) == Decimal(100)
    assert _lookup(resolved, "A", date(2024, 1, 31)) == Decimal(100)
    assert _lookup(resolved, "A", date(2023, 12, 31)) is None


def _spans(draw: st.DrawFn) -> list[tuple[int, int | None, int]]:
    """Disjoint validity spans (start, end or None for open, price), in day offsets."""
    cuts = sorted(draw(st.sets(st.integers(0, 360), max_size=8)))
    spans: list[tuple[int, int | None, int]] = []
    for start, end in zip(cuts[::2], cuts[1::2], strict=False):
        spans.append((start, end, draw(st.integers(1, 10**6))))
    if len(cuts) % 2 and draw(st.booleans()):
        spans.append((cuts[-1], None, draw(st.integers(1, 10**6))))
    return spans


@st.composite
def scoped_rows(draw: st.DrawFn) -> dict[str | None, list[tuple[int, int | None, int]]]:
    """Rows of code A: national (None) and for facility 01001, each with its own spans."""
    return {None: _spans(draw), "01001": _spans(draw)}


def _dated(facility: str | None, spans: list[tuple[int, int | None, int]]) -> list:
    return [
        {
            "ma_cskcb": facility,
            "ma_dich_vu": "A",
            "ten_dich_vu": "A",
            "ma_nhom": 1,
            "don_gia": Decimal(price),
            "max_per_day": None,
            "valid_from": DAY0 + timedelta(days=start),
            "valid_to": None if end is None else DAY0 + timedelta(days=end),
        }
        for start, end, price in spans
    ]


@given(scoped_rows(), st.lists(st.integers(-5, 400), min_size=1, max_size=20))
def test_facility_row_wins_where_valid_and_the_national_row_elsewhere(
    scoped: dict[str | None, list[tuple[int, int | None, int]]], days: list[int]
) -> None:
    records = [r for facility, spans in scoped.items() for r in _dated(facility, spans)]
    rows = pl.DataFrame(records, schema=SERVICES.polars_schema, orient="row")
    resolved = resolve([version("services", "2024-01-01", rows, recorded_at=T0)])

    def valid(spans: list[tuple[int, int | None, int]], offset: int) -> int | None:
        for start, end, price in spans:
            if start <= offset and (end is None or offset <= end):
                return price
        return None

    for offset in days:
        day = DAY0 + timedelta(days=offset)
        own = valid(scoped["01001"], offset)
        national = valid(scoped[None], offset)
        expected = own if own is not None else national
        got = _lookup(resolved, "A", day)
        assert got == (None if expected is None else Decimal(expected))
        # a facility without rows of its own always gets the national row
        other = _lookup(resolved, "A", day, facility="01002")
        assert other == (None if national is None else Decimal(national))


bitemporal_releases = st.lists(
    st.tuples(
        st.integers(0, 3),  # effective month offset: few dates, so corrections happen
        st.integers(0, 30),  # recorded day offset (ties allowed)
        st.dictionaries(st.sampled_from(CODES), st.integers(1, 10**6), min_size=1),
    ),
    min_size=1,
    max_size=6,
)


@given(
    bitemporal_releases,
    st.one_of(st.none(), st.integers(0, 31)),
    st.lists(st.tuples(st.integers(-5, 200), st.sampled_from(CODES)), max_size=12),
)
def test_corrections_and_supersession_answer_like_a_naive_bitemporal_lookup(
    spec: list[tuple[int, int, dict[str, int]]],
    known_offset: int | None,
    queries: list[tuple[int, str]],
) -> None:
    versions: list[CatalogVersion] = []
    seen: dict[int, int] = {}
    for month, recorded, prices in spec:
        n = seen[month] = seen.get(month, 0) + 1
        start = date(2024, 1 + month, 1)
        name = start.isoformat() + ("" if n == 1 else f".{n}")
        at = T0 + timedelta(days=recorded)
        versions.append(version("services", name, _rows(prices), recorded_at=at))
    known = None if known_offset is None else T0 + timedelta(days=known_offset)
    resolved = resolve(versions, known)

    def naive(code: str, day: date) -> Decimal | None:
        visible = [
            v for v in versions if known is None or v.manifest.recorded_at <= known
        ]
        started = [v for v in visible if v.manifest.effective_from <= day]
        if not started:
            return None
        newest = max(v.manifest.effective_from for v in started)
        # the last recorded wins; for one recorded time, the higher correction number
        winner = max(
            (v for v in started if v.manifest.effective_from == newest),
            key=lambda v: (v.manifest.recorded_at, versions.index(v)),
        )
        hit = winner.rows.filter(pl.col("ma_dich_vu") == code)["don_gia"]
        return hit[0] if hit.len() else None

    for offset, code in queries:
        day = date(2024, 1, 1) + timedelta(days=offset)
        assert _lookup(resolved, code, day) == naive(code, day)
