"""Pictures of one facility's anomaly scores, for an assessor or a manager (issue 15
item 6): frames in, PNG and SVG bytes out (no file, no clock, no global state).

- ``cost_distribution``: the cost per claim (T_TONGCHI_BV) of the claims of the
  facility's peer groups (``claims.anomalies.peers``: every group one of its claims was
  compared in), the other facilities' claims against the facility's, on a log axis,
  both medians marked, each of the facility's claims a tick under the bars (up to
  :data:`RUG_MAX`); under it, its :data:`TOP_GROUPS` largest peer groups one by one
  (those with other facilities' claims first).
- ``monthly_trend``: the facility's median cost per claim month by month against the
  median of the claims of the facilities of the same level (the comparison the
  facility's ``trend_z`` makes, ``claims.anomalies.score``).
- ``risk_drivers``: the rules that fired most on its claims (hits, and the money
  rejected on the lines and claims they hit) and the score features named most often
  among its claims' top contributions (claims, and their claimed T_BHTT).

Money stays Decimal in the frames; it becomes a float only as a plot coordinate. The
same frames give byte-identical files: matplotlib's SVG ids are salted with a fixed
:data:`RC` ``svg.hashsalt``, and neither format records a date or a software version.
Words on the pictures are Vietnamese (DejaVu Sans, matplotlib's default font, has
the diacritics), money in đồng with ``.`` between thousands.

matplotlib is imported when a picture is drawn, not with the package: importing it
takes about a second, which every other user of ``claims.anomalies`` (the daily run,
``anomalies run``) would pay for nothing.
"""

from __future__ import annotations

import html
import io
import math
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from claims.anomalies.profile import LEVELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMATS = ("png", "svg")
"""The formats a picture is written in."""
TOP_BARS = 10
"""Rules and features shown on ``risk_drivers``, most frequent first."""
BINS = 40
"""Histogram bins of ``cost_distribution`` over the costs' log range."""
RUG_MAX = 1000
"""A facility's claims are ticked one by one under the bars up to this many (above,
its bars say it: a tick each for a large hospital's month would make an SVG of
megabytes)."""
TOP_GROUPS = 3
"""Peer groups drawn one by one on ``cost_distribution``, largest first."""
RC: dict[Any, Any] = {
    "svg.hashsalt": "giamdinh",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10,
    "figure.dpi": 100,
}
"""matplotlib settings of every picture: fixed SVG ids, text kept as text in the SVG
(searchable, and the web UI's fonts draw the diacritics), one font."""
METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": "giamdinh"},
}
"""What a file says about itself: no date, no version (byte-identical reruns)."""
OWN, PEERS = "#c0392b", "#7f8c8d"
"""The facility's colour, its peers' colour."""

FEATURE_WORDS = {
    "cost": "Chi phí hồ sơ cao",
    "los": "Số ngày điều trị dài",
    "lines": "Nhiều dòng thuốc, DV, VTYT",
    "drug_share": "Tỷ lệ tiền thuốc cao",
    "supply_share": "Tỷ lệ tiền VTYT cao",
    "concentration": "Cơ cấu chi phí bất thường",
    "quantity_excess": "Số lượng vượt mức thường gặp",
    "dx_rarity": "Dịch vụ hiếm với chẩn đoán",
    "drug_lines": "Nhiều dòng thuốc trong đơn",
    "test_lines": "Nhiều dòng cận lâm sàng",
    "dose_excess": "Liều thuốc vượt liều thường dùng",
    "care_per_day": "Ít điều trị so với số ngày",
    "visits": "Khám nhiều lần trong kỳ",
    "readmits": "Hồ sơ sát nhau (nghi tách đợt)",
    "overlaps": "Trùng thời gian tại cơ sở khác",
}
"""A score feature (``claims.anomalies.profile.FEATURES``) in an assessor's words; a
feature not listed is shown by its name."""
ACTION_WORDS = {
    "reject": "từ chối",
    "cap": "giới hạn",
    "adjust": "điều chỉnh",
    "review": "chuyển giám định",
    "info": "thông tin",
}
"""A rule pack action (``rules.packs.Action``) in an assessor's words."""
CAPTIONS = {
    "cost_distribution": "Phân bố chi phí mỗi hồ sơ của nhóm so sánh (trục log), "
    "hồ sơ và trung vị của cơ sở được đánh dấu",
    "monthly_trend": "Trung vị chi phí mỗi hồ sơ theo tháng: cơ sở so với các cơ sở "
    "cùng cấp",
    "risk_drivers": "Yếu tố làm tăng rủi ro: quy tắc vi phạm nhiều nhất (số lần, số "
    "tiền bị từ chối) và đặc điểm điểm bất thường nổi bật nhất của các hồ sơ",
}
"""One Vietnamese caption per picture (``index.html``)."""


@dataclass(frozen=True)
class FacilityFrames:
    """What the pictures of one facility and period read.

    Attributes:
        facility: MA_CSKCB.
        period: the scored month ``YYYY-MM``.
        costs: ``ma_cskcb, ma_lk, peer_group, cost`` (MONEY) of every scored claim of
            the facility's peer groups in the period, the facility's own included.
        months: ``month`` (``YYYY-MM``), ``own`` (bool: the facility's claims, else
            its peers'), ``claims``, ``median_cost`` (float), one row per month and
            side; months without claims are absent.
        hits: one row per rule hit on the facility's claims of the period:
            ``rule_id, action, rejected`` (MONEY: what the decision rejected on the
            line, or of the claim for a claim-level hit; a line two rules hit counts
            under both).
        scores: the facility's stored scores (``claims.store.anomalies.scores_of``):
            ``ma_lk, t_bhtt, risk, top_features`` (``;``-joined names).
        level: the facility's level (the facilities catalog's ``level_2025``), or
            empty.
        risk: the facility's stored 0–1 risk of the period (the share of the
            period's facilities below it), if known.
    """

    facility: str
    period: str
    costs: pl.DataFrame
    months: pl.DataFrame
    hits: pl.DataFrame
    scores: pl.DataFrame
    level: str = ""
    risk: float | None = None


def dong(value: float) -> str:
    """An amount in đồng, rounded, ``.`` between thousands: ``1.234.500 đ``."""
    return f"{number(value)} đ"


def number(value: float) -> str:
    """A count or amount rounded, ``.`` between thousands: ``12.500``."""
    return f"{value:,.0f}".replace(",", ".")


def _dong_ticks(value: float, _position: float) -> str:
    return dong(value) if value > 0 else "0 đ"


def _count_ticks(value: float, _position: float) -> str:
    return number(value)


def rule_summary(hits: pl.DataFrame, top: int = TOP_BARS) -> pl.DataFrame:
    """``rule_id, label, hits, rejected`` (MONEY) of the ``top`` rules with the most
    hits (ties: most money, then the rule id); ``label``: the rule id and what its
    action does, in words (``J1_SAME_DAY (chuyển giám định)``)."""
    action = pl.col("action").min()
    words = action.replace_strict(ACTION_WORDS, default=action)
    return (
        hits.group_by("rule_id")
        .agg(
            pl.format("{} ({})", pl.col("rule_id").first(), words).alias("label"),
            pl.len().alias("hits"),
            pl.col("rejected").fill_null(0).sum(),
        )
        .sort(["hits", "rejected", "rule_id"], descending=[True, True, False])
        .head(top)
        .select("rule_id", "label", "hits", "rejected")
    )


def feature_summary(scores: pl.DataFrame, top: int = TOP_BARS) -> pl.DataFrame:
    """``feature, words, claims, money`` (the claims' claimed T_BHTT, MONEY) of the
    ``top`` features named most often among the claims' top contributions."""
    named = (
        scores.select(
            pl.col("top_features").fill_null("").str.split(";").alias("feature"),
            "t_bhtt",
        )
        .explode("feature")
        .filter(pl.col("feature") != "")
    )
    return (
        named.group_by("feature")
        .agg(pl.len().alias("claims"), pl.col("t_bhtt").sum().alias("money"))
        .with_columns(
            pl.col("feature")
            .replace_strict(FEATURE_WORDS, default=pl.col("feature"))
            .alias("words")
        )
        .sort(["claims", "money", "feature"], descending=[True, True, False])
        .head(top)
        .select("feature", "words", "claims", "money")
    )


@contextmanager
def _figure(width: float, height: float) -> Iterator[Figure]:
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with mpl.rc_context(RC):
        figure = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(figure)
        yield figure


def _saved(figure: Figure, formats: Sequence[str]) -> dict[str, bytes]:
    import matplotlib as mpl

    saved = {}
    with mpl.rc_context(RC):
        for fmt in formats:
            buffer = io.BytesIO()
            figure.savefig(buffer, format=fmt, metadata=METADATA[fmt])
            saved[fmt] = buffer.getvalue()
    return saved


def _floats(frame: pl.DataFrame, column: str) -> list[float]:
    return frame.get_column(column).cast(pl.Float64).drop_nulls().to_list()


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _empty(axes: Axes, words: str) -> None:
    axes.text(0.5, 0.5, words, ha="center", va="center", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def group_words(group: str) -> str:
    """A peer group (``level|department|province|claim type|diagnosis``, ``*`` for
    any) in words: ``cấp cơ bản · khoa K01 · tỉnh 01 · loại KCB 01 · chẩn đoán J18``."""
    parts = [*group.split("|"), "*", "*", "*", "*", "*"][:5]
    parts[0] = LEVELS.get(parts[0], parts[0])
    named = ("cấp {}", "khoa {}", "tỉnh {}", "loại KCB {}", "chẩn đoán {}")
    every = ("mọi cấp", "mọi khoa", "mọi tỉnh", "mọi loại KCB", "mọi chẩn đoán")
    return " · ".join(
        e if v == "*" else n.format(v)
        for v, n, e in zip(parts, named, every, strict=True)
    )


def panel_groups(
    own_rows: pl.DataFrame, peer_rows: pl.DataFrame, top: int
) -> list[str]:
    """The ``top`` peer groups holding most of the facility's claims, those where
    other facilities' claims are too first (a group of the facility alone compares
    it with itself), ties by name."""
    others = peer_rows.select("peer_group").unique().with_columns(_others=pl.lit(True))
    counts = (
        own_rows.group_by("peer_group")
        .agg(pl.len().alias("n"))
        .join(others, on="peer_group", how="left")
        .with_columns(pl.col("_others").fill_null(False))
    )
    ordered = counts.sort(
        ["_others", "n", "peer_group"], descending=[True, True, False]
    )
    return ordered.head(top).get_column("peer_group").to_list()


def _costs(rows: pl.DataFrame) -> list[float]:
    return [v for v in _floats(rows, "cost") if v > 0]


def cost_distribution(frames: FacilityFrames) -> Figure:
    """The peer groups' cost per claim with the facility's claims marked: all its
    groups together, then its :data:`TOP_GROUPS` largest groups one by one."""
    mine = pl.col("ma_cskcb") == frames.facility
    own_rows, peer_rows = frames.costs.filter(mine), frames.costs.filter(~mine)
    own, peers = _costs(own_rows), _costs(peer_rows)
    groups = panel_groups(own_rows, peer_rows, TOP_GROUPS) if own else []
    with _figure(12, 9 if groups else 5.5) as figure:
        figure.suptitle(
            f"Chi phí mỗi hồ sơ của cơ sở {frames.facility} so với nhóm so sánh, "
            f"kỳ {frames.period}",
            fontweight="bold",
        )
        keys: list[Any] = [f"g{i}" for i in range(len(groups))]
        panels = (
            figure.subplot_mosaic([["all"] * len(keys), keys], height_ratios=[2, 1])
            if groups
            else {"all": figure.add_subplot()}
        )
        main = panels["all"]
        main.set_title(
            f"Mọi nhóm so sánh của cơ sở ({number(own_rows['peer_group'].n_unique())} "
            f"nhóm): {number(len(own))} hồ sơ của cơ sở, {number(len(peers))} hồ sơ "
            "của cơ sở khác",
            fontsize=9,
        )
        if not own and not peers:
            _empty(main, "Không có hồ sơ nào có chi phí trong kỳ")
            return figure
        _cost_panel(main, own, peers, legend=True)
        main.set_xlabel("Chi phí mỗi hồ sơ (T_TONGCHI_BV, đồng, thang log)")
        main.set_ylabel("Tỷ lệ hồ sơ (%)")
        for key, group in zip(keys, groups, strict=True):
            of_group = pl.col("peer_group") == group
            g_own, g_peers = (
                _costs(own_rows.filter(of_group)),
                _costs(peer_rows.filter(of_group)),
            )
            panels[key].set_title(
                f"{group_words(group)}\n{number(len(g_own))} hồ sơ của cơ sở, "
                f"{number(len(g_peers))} của cơ sở khác",
                fontsize=7,
            )
            _cost_panel(panels[key], g_own, g_peers, legend=False)
        return figure


def _cost_panel(
    axes: Axes, own: list[float], peers: list[float], *, legend: bool
) -> None:
    """Both sides' bars, their medians, a log money axis."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    _cost_bars(axes, own, peers)
    for values, colour, who in ((peers, PEERS, "nhóm so sánh"), (own, OWN, "cơ sở")):
        median = _median(values)
        if median is not None:
            axes.axvline(
                median,
                color=colour,
                linestyle="--",
                linewidth=1.5,
                label=f"Trung vị {who}: {dong(median)}",
            )
    axes.set_xscale("log")
    axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(FuncFormatter(_dong_ticks))
    axes.xaxis.set_minor_formatter(FuncFormatter(lambda _v, _p: ""))
    axes.tick_params(axis="x", labelrotation=30, labelsize=10 if legend else 7)
    axes.grid(axis="y", alpha=0.3)
    if legend:
        axes.legend(loc="upper right", fontsize=8)


def _cost_bars(axes: Axes, own: list[float], peers: list[float]) -> None:
    """Both sides as shares of their own claims over common log bins, the
    facility's claims as ticks under the bars."""
    values = own + peers
    low, high = math.log10(min(values)), math.log10(max(values))
    if high - low < 1e-9:
        low, high = low - 0.05, high + 0.05
    edges = [10 ** (low + (high - low) * i / BINS) for i in range(BINS + 1)]
    if peers:
        axes.hist(
            peers,
            bins=edges,
            weights=[100.0 / len(peers)] * len(peers),
            color=PEERS,
            alpha=0.55,
            label=f"Cơ sở khác trong nhóm so sánh ({number(len(peers))} hồ sơ)",
        )
    if own:
        axes.hist(
            own,
            bins=edges,
            weights=[100.0 / len(own)] * len(own),
            histtype="step",
            color=OWN,
            linewidth=2,
            label=f"Cơ sở ({number(len(own))} hồ sơ)",
        )
    if 0 < len(own) <= RUG_MAX:
        axes.plot(
            own,
            [0.0] * len(own),
            linestyle="none",
            marker="|",
            markersize=12,
            color=OWN,
            alpha=0.6,
        )


def monthly_trend(frames: FacilityFrames) -> Figure:
    """The facility's and its same-level peers' median cost per claim by month."""
    from matplotlib.ticker import FuncFormatter

    months = sorted(set(frames.months.get_column("month").to_list()))
    with _figure(10, 5) as figure:
        axes = figure.add_subplot()
        words = LEVELS.get(frames.level, frames.level)
        level = f" (cấp {words})" if words else ""
        figure.suptitle(
            f"Trung vị chi phí mỗi hồ sơ theo tháng: cơ sở {frames.facility} và các "
            f"cơ sở cùng cấp{level}",
            fontweight="bold",
        )
        axes.set_title(f"{len(months)} tháng đến kỳ {frames.period}", fontsize=9)
        if not months:
            _empty(axes, "Kho chưa có hồ sơ nào của các tháng này")
            return figure
        position = {m: i for i, m in enumerate(months)}
        for own, colour, who in (
            (False, PEERS, "Các cơ sở cùng cấp"),
            (True, OWN, "Cơ sở"),
        ):
            rows = frames.months.filter(pl.col("own") == own).sort("month")
            if rows.height == 0:
                continue
            axes.plot(
                [position[m] for m in rows.get_column("month").to_list()],
                rows.get_column("median_cost").cast(pl.Float64).to_list(),
                marker="o",
                color=colour,
                linewidth=2,
                label=who,
            )
        axes.set_xticks(range(len(months)), [_month_words(m) for m in months])
        axes.yaxis.set_major_formatter(FuncFormatter(_dong_ticks))
        axes.set_ylim(bottom=0)
        axes.set_xlabel("Tháng quyết toán (THANG_QT/NAM_QT)")
        axes.set_ylabel("Trung vị chi phí mỗi hồ sơ (đồng)")
        axes.legend(loc="best", fontsize=8)
        axes.grid(alpha=0.3)
        return figure


def _month_words(month: str) -> str:
    year, number = month.split("-")
    return f"{number}/{year}"


def risk_drivers(frames: FacilityFrames) -> Figure:
    """Four bar charts: the rules by hits and by rejected money, the features by
    claims and by the claims' claimed T_BHTT."""
    rules = rule_summary(frames.hits)
    features = feature_summary(frames.scores)
    with _figure(13, 8.5) as figure:
        risk = (
            ""
            if frames.risk is None
            else f" (rủi ro cơ sở {frames.risk:.2f}: cao hơn "
            f"{frames.risk * 100:.0f} % số cơ sở trong kỳ)".replace(".", ",")
        )
        figure.suptitle(
            f"Yếu tố làm tăng rủi ro của cơ sở {frames.facility}, kỳ {frames.period}"
            + risk,
            fontweight="bold",
        )
        (hits, rejected), (claims, money) = figure.subplots(2, 2, sharey="row")
        labels = rules.get_column("label").to_list()
        _bars(
            hits, labels, rules, "hits", "Số lần quy tắc bị vi phạm", money_axis=False
        )
        _bars(
            rejected, labels, rules, "rejected", "Số tiền bị từ chối", money_axis=True
        )
        words = features.get_column("words").to_list()
        _bars(
            claims,
            words,
            features,
            "claims",
            "Số hồ sơ có đặc điểm trong 3 lý do hàng đầu",
            money_axis=False,
        )
        _bars(
            money,
            words,
            features,
            "money",
            "Tiền BHYT đề nghị (T_BHTT) của các hồ sơ đó",
            money_axis=True,
        )
        if rules.height == 0:
            _empty(hits, "Không có quy tắc nào bị vi phạm trong kỳ")
        if features.height == 0:
            _empty(claims, "Không hồ sơ nào có đặc điểm cách xa nhóm so sánh")
        return figure


def _bars(
    axes: Axes,
    labels: list[str],
    frame: pl.DataFrame,
    column: str,
    title: str,
    *,
    money_axis: bool,
) -> None:
    from matplotlib.ticker import FuncFormatter

    axes.set_title(title, fontsize=10)
    if frame.height == 0:
        axes.set_xticks([])
        axes.set_yticks([])
        return
    values = frame.get_column(column).cast(pl.Float64).fill_null(0.0).to_list()
    rows = list(range(len(values)))
    axes.barh(rows, values, color=OWN if money_axis else PEERS)
    axes.set_yticks(rows, labels)
    if not axes.yaxis_inverted():  # the row shares its y axis: invert it once
        axes.invert_yaxis()
    axes.xaxis.set_major_formatter(
        FuncFormatter(_dong_ticks if money_axis else _count_ticks)
    )
    if not money_axis:
        axes.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    axes.tick_params(axis="x", labelrotation=30)
    axes.grid(axis="x", alpha=0.3)
    if max(values) <= 0:
        axes.set_xlim(0, 1)
        axes.set_xticks([])
        axes.text(
            0.5,
            0.5,
            "0 đ" if money_axis else "0",
            ha="center",
            va="center",
            transform=axes.transAxes,
        )
    else:
        axes.set_xlim(left=0)


PICTURES = {
    "cost_distribution": cost_distribution,
    "monthly_trend": monthly_trend,
    "risk_drivers": risk_drivers,
}
"""Each picture's file stem and the function that draws it."""


def draw_pictures(
    frames: FacilityFrames, formats: Sequence[str] = FORMATS
) -> dict[str, bytes]:
    """Every picture of ``frames`` in every format: ``{"cost_distribution.png": …}``.

    Raises:
        ValueError: a format is not one of :data:`FORMATS`.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        msg = (
            f"picture formats {unknown or list(formats)} are not among {list(FORMATS)}"
        )
        raise ValueError(msg)
    files = {}
    for stem, draw in PICTURES.items():
        for fmt, data in _saved(draw(frames), formats).items():
            files[f"{stem}.{fmt}"] = data
    return files


def index_html(facility: str, period: str, names: Sequence[str]) -> bytes:
    """A page listing the picture files ``names``, each with its caption, each
    picture shown once: its PNG (the same pixels on every screen), else its SVG
    (whose text the browser draws with its own fonts)."""
    shown: dict[str, str] = {}
    for name in sorted(names):
        stem = name.rsplit(".", 1)[0]
        if stem not in shown or name.endswith(".png"):
            shown[stem] = name
    items = []
    for name in sorted(names):
        stem = name.rsplit(".", 1)[0]
        caption = html.escape(CAPTIONS.get(stem, stem))
        link = html.escape(name)
        image = f'<img src="{link}" alt="{caption}" width="800"><br>'
        items.append(
            f"<li>{image if shown[stem] == name else ''}"
            f'<a href="{link}">{link}</a>: {caption}</li>'
        )
    title = html.escape(f"Điểm bất thường của cơ sở {facility}, kỳ {period}")
    body = "\n".join(items)
    page = (
        '<!DOCTYPE html>\n<html lang="vi">\n<head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n{body}\n"
        "</ul>\n</body>\n</html>\n"
    )
    return page.encode("utf-8")
