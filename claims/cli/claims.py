"""``giamdinh claims show``: a stored claim as an assessor or a clinic reads it — every
stored version, the current decision, its amounts and every reason, the pack and
catalog versions and the run; and the pieces ``rules explain`` prints the same way.
"""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer

from claims.cli.common import CatalogDir, DataDir, err, fail, out, settings_for
from claims.cli.listing import (
    Format,
    FormatOption,
    Listing,
    emit,
    print_table,
    rows_of,
    table_of,
)
from claims.config import Settings
from claims.errors import ConfigError
from claims.errors import ReasonCode as R
from claims.store.versions import ClaimRecord

if TYPE_CHECKING:
    from claims.pipeline.explain import Explained

app = typer.Typer(
    help="Stored claims: every version, the decision, its amounts and reasons.",
    no_args_is_help=True,
)
TOTALS = ("t_tongchi_bv", "t_tongchi_bh", "t_bhtt", "t_bncct", "t_bntt", "t_nguonkhac")
"""The XML1 totals a decision carries as claimed, law and accepted amounts."""
REASON_FIELDS = (
    "code", "bhxh_code", "level", "table", "stt", "item_code", "field", "values",
    "message",
)  # fmt: skip
"""A reason as ``giamdinh check`` gives it (those the stored reasons hold), then its
``source`` (the rule id, ``payment`` or ``validation``)."""
REVIEW_SHOWN = (
    "review_id", "version", "assessor", "decided_at", "state", "approved_by",
    "outcome", "accepted_t_bhtt", "reason_code", "justification", "contested_at",
)  # fmt: skip
"""A review's columns in the table of ``claims show`` (newest first)."""


def reason_frame(reasons: pl.DataFrame) -> pl.DataFrame:
    """Reasons (``claims.decide.REASON_SCHEMA`` rows) in the check contract's fields,
    the values compared as ``name=value, …`` text (for a table or CSV)."""
    shown = [c for c in (*REASON_FIELDS, "source") if c in reasons.columns]
    frame = reasons.select(shown)
    if "values" in frame.columns and isinstance(frame.schema["values"], pl.List):
        item = pl.element().struct
        text = pl.concat_str(item.field("name"), pl.lit("="), item.field("value"))
        frame = frame.with_columns(pl.col("values").list.eval(text).list.join(", "))
    return frame


def reason_objects(reasons: pl.DataFrame) -> list[dict[str, Any]]:
    """Reasons as the check contract's objects: ``values`` as ``{name: value}``."""
    shown = [c for c in (*REASON_FIELDS, "source") if c in reasons.columns]
    out = rows_of(reasons.select(shown))
    for reason in out:
        if isinstance(reason.get("values"), list):
            reason["values"] = {v["name"]: v["value"] for v in reason["values"]}
    return out


def decision_rows(named: list[tuple[str, pl.DataFrame]]) -> pl.DataFrame:
    """One row per (name, one-row decision frame): its run, outcome, fund amounts
    (T_BHTT claimed and accepted, rejected), pack and catalog versions."""
    rows = [
        frame.select(
            pl.lit(name).alias("decision"),
            "run_id",
            "outcome",
            "claimed_t_bhtt",
            "accepted_t_bhtt",
            "rejected_amount",
            "pack",
            "catalogs",
        )
        for name, frame in named
        if frame.height
    ]
    return pl.concat(rows, how="vertical_relaxed") if rows else pl.DataFrame()


def amount_rows(named: list[tuple[str, pl.DataFrame]]) -> pl.DataFrame:
    """Per XML1 total: claimed, the law's, and accepted by each named decision."""
    first = next((f for _, f in named if f.height), None)
    if first is None:
        return pl.DataFrame()
    columns = [
        pl.Series("total", [t.upper() for t in TOTALS]),
        pl.concat([first[f"claimed_{t}"] for t in TOTALS]).alias("claimed"),
        pl.concat([first[f"law_{t}"] for t in TOTALS]).alias("law"),
    ]
    columns += [
        pl.concat([frame[f"accepted_{t}"] for t in TOTALS]).alias(f"accepted {name}")
        for name, frame in named
        if frame.height
    ]
    return pl.DataFrame(columns)


@app.command("show")
def show(
    facility: Annotated[str, typer.Option("--facility", help="MA_CSKCB of the claim.")],
    claim: Annotated[str, typer.Option("--claim", help="MA_LK of the claim.")],
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
    fmt: FormatOption = Format.table,
) -> None:
    """A stored claim: every version, the current decision, accepted amounts, every
    reason (rule, payment, validation), the pack and catalog versions and the run;
    submissions of it that validation refused, and its assessors' reviews (who, when,
    the decision, the justification, the BHXH reason code), are listed too."""
    from claims.store import open_store
    from claims.store.review import review_history
    from claims.store.versions import claim_record, facilities_of

    settings = settings_for(data_dir, catalog_dir)
    if not settings.store_path.is_file():
        msg = (
            f"no store at {settings.store_path}: check --data-dir (or "
            "GIAMDINH_DATA_DIR); `giamdinh run` or `giamdinh demo` creates it"
        )
        raise fail(ConfigError(msg))
    with open_store(settings.store_path, read_only=True) as con:
        record = claim_record(con, facility, claim)
        elsewhere = facilities_of(con, claim) if record.versions.height == 0 else []
        reviews = review_history(con, facility, claim)
    if record.versions.height == 0 and record.refused.height == 0:
        raise fail(ConfigError(_not_stored(facility, claim, elsewhere, settings)))
    shown = _shown(facility, claim, record)
    shown["reviews"] = rows_of(reviews)
    if fmt is Format.json:
        sys.stdout.write(json.dumps(shown, ensure_ascii=False, indent=1) + "\n")
        return
    if fmt is Format.table:
        _print_summary(shown)
    listings = _listings(record)
    if reviews.height:
        keys = record.versions.select("file_id", "hoso_idx", "version")
        of = reviews.cast({"hoso_idx": keys.schema["hoso_idx"]}).join(
            keys, on=["file_id", "hoso_idx"], how="left"
        )
        listings.append(("reviews", of.select(REVIEW_SHOWN)))
    emit(out, listings, fmt)


def _not_stored(
    facility: str, claim: str, elsewhere: list[str], settings: Settings
) -> str:
    """The message for a claim the store does not hold, with the fix."""
    where = f"the store at {settings.store_path}"
    if elsewhere:
        return (
            f"no claim {claim!r} of facility {facility!r} in {where}; MA_LK {claim} "
            f"is stored for facility {', '.join(elsewhere)}: pass that --facility"
        )
    return (
        f"no claim {claim!r} of facility {facility!r} in {where}: check --facility "
        "(MA_CSKCB) and --claim (MA_LK, as sent in XML1) and --data-dir; a claim is "
        "stored by `giamdinh ingest` or `giamdinh run`"
    )


def _money(value: object) -> str | None:
    return None if value is None else f"{value:.2f}"


def _shown(facility: str, claim: str, record: ClaimRecord) -> dict[str, Any]:
    """The claim as one JSON object: current decision first, then every version and
    the refused submissions."""
    decisions = {d["version"]: d for d in record.decisions.to_dicts()}
    versions = []
    for v in rows_of(record.versions.drop("file_id")):
        decision = decisions.get(v["version"])
        entry: dict[str, Any] = {**v, "outcome": None}
        mine = record.reasons.filter(pl.col("version") == v["version"])
        if decision is not None:
            entry |= {
                "outcome": decision["outcome"],
                "claimed": {t: _money(decision[f"claimed_{t}"]) for t in TOTALS},
                "law": {t: _money(decision[f"law_{t}"]) for t in TOTALS},
                "accepted": {t: _money(decision[f"accepted_{t}"]) for t in TOTALS},
                "rejected_amount": _money(decision["rejected_amount"]),
                "versions": {
                    "pack": decision["pack"],
                    "catalogs": json.loads(decision["catalogs"] or "{}"),
                },
            }
        entry["reasons"] = reason_objects(mine) if decision is not None else []
        versions.append(entry)
    current = next((v for v in versions if v["is_current"]), None)
    refused = _refused_reasons(record)
    return {
        "ma_cskcb": facility,
        "ma_lk": claim,
        "current": current,
        "versions": versions,
        "refused": [
            {
                **r,
                "reasons": rows_of(
                    refused.filter(
                        pl.col("file_id") == r["file_id"],
                        pl.col("hoso_idx") == r["hoso_idx"],
                    ).drop("file_id", "hoso_idx")
                ),
            }
            for r in rows_of(record.refused)
        ],
    }


def _refused_reasons(record: ClaimRecord) -> pl.DataFrame:
    """The causes of the refused submissions (not the lines refused with them)."""
    found = record.refused_reasons
    if found.height == 0:
        return found
    return found.filter(pl.col("reason_code") != R.LINE_OF_REJECTED_CLAIM.value)


def _listings(record: ClaimRecord) -> list[Listing]:
    """The versions, the current decision's amounts and reasons, refusals."""
    decisions = record.decisions
    versions = record.versions.join(
        decisions.select(
            "version", "outcome", "claimed_t_bhtt", "accepted_t_bhtt", "rejected_amount"
        ),
        on="version",
        how="left",
    ).select(
        "version", "is_current", "withdrawn", "outcome", "claimed_t_bhtt",
        "accepted_t_bhtt", "rejected_amount", "run_id", "run_date", "file",
        pl.col("hoso_idx") + 1,
    )  # fmt: skip
    current = record.versions.filter(pl.col("is_current"))["version"]
    now = decisions.filter(pl.col("version").is_in(current.implode()))
    listings: list[Listing] = [("versions", versions.rename({"hoso_idx": "stt"}))]
    if now.height:
        listings.append(("amounts", amount_rows([("", now)])))
        mine = record.reasons.filter(pl.col("version").is_in(current.implode()))
        listings.append(("reasons", reason_frame(mine)))
    if record.refused.height:
        refused = record.refused.join(
            _refused_reasons(record), on=["file_id", "hoso_idx"], how="left"
        ).select(
            "run_id", "run_date", "file", (pl.col("hoso_idx") + 1).alias("stt"),
            "table", "line_no", "field", "reason_code", "message",
        )  # fmt: skip
        listings.append(("refused at validation", refused))
    return listings


def _print_summary(shown: dict[str, Any]) -> None:
    """One line on the current version: outcome, run, pack and catalog versions."""
    name = f"{shown['ma_cskcb']}/{shown['ma_lk']}"
    current = shown["current"]
    if current is None:
        out.print(f"{name}: no stored version (every submission was refused)")
        return
    if current.get("outcome") is None:
        out.print(f"{name} version {current['version']}: no decision stored")
        return
    catalogs = ", ".join(f"{k} {v}" for k, v in current["versions"]["catalogs"].items())
    out.print(
        f"{name} version {current['version']}: {current['outcome']}, accepted T_BHTT "
        f"{current['accepted']['t_bhtt']} of {current['claimed']['t_bhtt']}; run "
        f"{current['run_id']} ({current['run_date']}); pack "
        f"{current['versions']['pack']}; catalogs {catalogs}",
        soft_wrap=True,
    )
    if current["withdrawn"]:
        err.print(f"{name} version {current['version']} is a withdrawal")


def print_explained(
    found: Explained, facility: str, claim: str, fmt: Format = Format.table
) -> None:
    """``rules explain``: every rule of the claim's pack version with its inputs and
    result, the stored decision beside the one the stages give now (amounts per
    total), every reason, and the patient's other claims the cross-claim rules count."""
    name = f"{facility}/{claim}"
    if found.pack is None:
        if fmt is Format.table:
            out.print(f"{name}: no released version covers its admission: NO_RULE_PACK")
        else:
            emit(out, [("rules", pl.DataFrame())], fmt)
        return
    named = [("stored", found.stored), ("now", found.recomputed)]
    listings: list[Listing] = [
        ("rules", _rule_rows(found)),
        ("decisions", decision_rows(named)),
        ("amounts", amount_rows(named)),
        ("reasons", reason_frame(found.reasons)),
        ("related_claims", found.related),
    ]
    if fmt is Format.json:  # the reasons as the check contract's objects
        body = {n: rows_of(f) for n, f in listings}
        body["reasons"] = reason_objects(found.reasons)
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=1) + "\n")
        return
    if fmt is Format.csv:
        emit(out, listings, fmt)
        return
    out.print(f"{name} assessed by {found.pack.label}")
    rules = listings[0][1]
    print_table(out, table_of(None, rules, highlight="fired"))
    emit(out, listings[1:4], fmt)
    if found.related.height:
        title = "the patient's other stored claims (cross-claim rules)"
        emit(out, [(title, found.related)], fmt)
    if found.stored.height and found.recomputed.height:
        before, now = (
            found.stored["catalogs"].item(),
            found.recomputed["catalogs"].item(),
        )
        if before == now:
            out.print("catalog versions: the same as the stored decision's")
        else:
            out.print(f"catalog versions differ: stored {before}, now {now}")


def _rule_rows(found: Explained) -> pl.DataFrame:
    """Per rule: its action, what it gave (fired, no, not evaluable, lines) and its
    inputs on the claim's first row of its table."""
    assert found.pack is not None
    rows = []
    for r, row in zip(found.pack.rules, found.rules.iter_rows(named=True), strict=True):
        frame = found.frames[r.spec.table]
        fired, unknown, n = row["fired"], row["not_evaluable"], row["rows"]
        result = "—" if n == 0 else ("fired" if fired else "no")
        if unknown:
            counted = f"not evaluable ×{unknown}"
            result = f"{result}, {counted}" if fired else counted
        if r.spec.level == "line" and n:
            result += f" ({fired}/{n} lines)"
        names = _symbols(r.spec.expr, frame.columns)
        first = (
            frame.head(1).select(names).to_dicts()[0] if frame.height and names else {}
        )
        inputs = ", ".join(f"{k}={v}" for k, v in first.items())
        rows.append((r.spec.id, r.spec.action, result, inputs, bool(fired)))
    return pl.DataFrame(
        rows,
        schema=["rule", "action", "result", "inputs (first row)", "fired"],
        orient="row",
    )


def _symbols(text: str, columns: list[str]) -> list[str]:
    """The columns of ``columns`` that rule text ``text`` names."""
    names = set(re.findall(r"(?<![\w$.\"'])([a-z_][a-z0-9_]*)", text))
    return [c for c in columns if c in names]
