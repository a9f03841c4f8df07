"""Reasons that name their line and values: a fired rule's message from its pack's
``reason_codes`` with the values it read, validation's entries with the bad value.

Every reason row carries ``item_code`` (the line's drug, service or supply code),
``stt`` (the line's STT as sent), ``field`` (where known) and ``values`` (a list of
``{name, value}``, :data:`claims.schema.REASON_VALUES`); its ``message`` is fully
rendered: a template's ``{name}`` placeholders are filled from the values (see
:func:`claims.messages.render_text`), and the values follow the text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from claims.errors import ReasonCode as R
from claims.messages import MESSAGES, PLACEHOLDER, placeholders
from claims.schema import CLAIM_KEYS, LINE_KEYS, REASON_VALUES
from rules.evaluate import NO_RULE_PACK, Pack

NULL_TEXT = "∅"
"""How a null value reads in a message."""
NO_RULE_PACK_MESSAGE = "Không có phiên bản bộ quy tắc áp dụng cho ngày vào viện"
RULE_TEXTS: dict[str, pl.DataType] = {
    "pack": pl.String(),
    "rule_id": pl.String(),
    "template": pl.String(),
    "pack_bhxh_code": pl.String(),
}


def value_list(pairs: Sequence[tuple[str, pl.Expr]]) -> pl.Expr:
    """A :data:`~claims.schema.REASON_VALUES` expression from ``(name, value)`` pairs."""
    if not pairs:
        return pl.lit([], REASON_VALUES)
    return pl.concat_list(
        [
            pl.struct(
                pl.lit(name, pl.String).alias("name"),
                value.cast(pl.String).alias("value"),
            )
            for name, value in pairs
        ]
    ).cast(REASON_VALUES)


def listing(values: pl.Expr) -> pl.Expr:
    """``name value, name value`` for a values list (empty text for none)."""
    item = pl.element().struct
    return values.list.eval(
        pl.concat_str(
            item.field("name"), pl.lit(" "), item.field("value").fill_null(NULL_TEXT)
        )
    ).list.join(", ")


def value_of(values: pl.Expr, name: str) -> pl.Expr:
    """The value called ``name`` in a values list (null when absent)."""
    item = pl.element().struct
    return values.list.eval(
        item.field("value").filter(item.field("name") == name)
    ).list.first()


def filled(template: pl.Expr, templates: Iterable[str], values: pl.Expr) -> pl.Expr:
    """``template`` (a column of templates among ``templates``) with each placeholder
    replaced by the row's value of that name (``∅`` when it has none)."""
    out = template
    for text in sorted(set(templates)):
        names = PLACEHOLDER.findall(text)
        if not names:
            continue
        shape = PLACEHOLDER.sub("{}", text.replace("{}", "( )"))
        args = [value_of(values, n).fill_null(NULL_TEXT) for n in names]
        out = pl.when(template == text).then(pl.format(shape, *args)).otherwise(out)
    return out


def with_values(text: pl.Expr, item_code: pl.Expr, values: pl.Expr) -> pl.Expr:
    """``text: item (name value, …)``; the parts that are missing are left out."""
    shown = listing(values)
    detail = (
        pl.when(item_code.is_not_null() & (shown != ""))
        .then(pl.format("{} ({})", item_code, shown))
        .when(item_code.is_not_null())
        .then(item_code)
        .when(shown != "")
        .then(shown)
    )
    return (
        pl.when(detail.is_null())
        .then(text)
        .otherwise(pl.format("{}: {}", text, detail))
    )


def rule_texts(packs: Sequence[Pack]) -> pl.DataFrame:
    """Per pack version and rule: the message template of its reason code (the pack's
    ``reason_codes`` text, else the rule's description) and the code's BHXH code."""
    rows = []
    for p in packs:
        for r in p.rules:
            declared = p.spec.reason_codes.get(r.spec.reason_code)
            template = declared.message.vi if declared else r.spec.description.vi
            bhxh = declared.bhxh_code if declared else None
            rows.append((p.label, r.spec.id, template, bhxh))
    return pl.DataFrame(rows, schema=RULE_TEXTS, orient="row")


def fired_rules(
    hits: pl.DataFrame,
    lines: pl.DataFrame,
    packs: Sequence[Pack],
    values: pl.DataFrame | None,
) -> pl.DataFrame:
    """The fired hits with what their reason shows: ``stt``, ``item_code``,
    ``values``, ``bhxh_code`` and the rendered ``message`` (``NO_RULE_PACK`` too); a
    rule not evaluable on a row is a ``RULE_NOT_EVALUABLE`` reason naming the rule and
    the values it read (the nulls among them)."""
    texts = rule_texts(packs)
    keys = [*CLAIM_KEYS, "table", "line_no", "rule_id", "pack"]
    fired = hits.filter(pl.col("outcome").is_in(["fired", "not_evaluable"])).join(
        texts, on=["pack", "rule_id"], how="left"
    )
    if values is not None:
        named = values.select(*keys, "stt", "item_code", "values")
        fired = fired.join(named, on=keys, how="left", nulls_equal=True)
    else:  # nothing to join: the columns a join would leave empty
        fired = fired.with_columns(
            pl.lit(None, pl.Int64).alias("stt"),
            pl.lit(None, pl.String).alias("item_code"),
            pl.lit(None, REASON_VALUES).alias("values"),
        )
    own = lines.select(
        *LINE_KEYS, pl.col("stt").alias("_stt"), pl.col("code").alias("_code")
    )  # the line's STT and item, joined on the key columns alone (one row per line)
    found = fired.select(LINE_KEYS).join(
        own, on=list(LINE_KEYS), how="left", maintain_order="left"
    )
    fired = fired.hstack(found.drop(LINE_KEYS).get_columns()).with_columns(
        pl.coalesce("stt", "_stt").alias("stt"),
        pl.coalesce("item_code", "_code").alias("item_code"),
        pl.col("values").fill_null(pl.lit([], REASON_VALUES)),
    )
    template = pl.coalesce(
        "template",
        pl.when(pl.col("reason_code") == NO_RULE_PACK).then(
            pl.lit(NO_RULE_PACK_MESSAGE)
        ),
        "reason_code",
    )
    on_line = pl.col("line_no").is_not_null()
    text = filled(template, texts["template"].drop_nulls(), pl.col("values"))
    item = pl.when(on_line).then(pl.col("item_code"))
    unknown = pl.col("outcome") == "not_evaluable"
    text = (
        pl.when(unknown)
        .then(
            pl.format(
                "{} ({}: {})",
                pl.lit(MESSAGES[R.RULE_NOT_EVALUABLE]),
                pl.col("rule_id"),
                text,
            )
        )
        .otherwise(text)
    )
    return fired.with_columns(
        pl.when(unknown)
        .then(pl.lit(R.RULE_NOT_EVALUABLE.value))
        .otherwise(pl.col("reason_code"))
        .alias("reason_code"),
        pl.when(unknown)
        .then(None)
        .otherwise(pl.col("pack_bhxh_code"))
        .alias("bhxh_code"),
        with_values(text, item, pl.col("values")).alias("message"),
    )


def validation_entries(quarantine: pl.DataFrame) -> pl.DataFrame:
    """Validation's entries with what their reason shows: ``field`` (the element name),
    ``values`` (the field's value as sent), ``stt`` and ``item_code`` where the
    quarantine frame carries them, and the message with no placeholder left."""
    name = pl.col("field").str.to_uppercase()
    entries = quarantine.with_columns(
        (
            pl.col("stt") if "stt" in quarantine.columns else pl.lit(None, pl.Int64)
        ).alias("stt"),
        (
            pl.col("item_code")
            if "item_code" in quarantine.columns
            else pl.lit(None, pl.String)
        ).alias("item_code"),
    )
    values = (
        pl.when(pl.col("field").is_not_null())
        .then(
            pl.concat_list(
                pl.struct(name.alias("name"), pl.col("raw_value").alias("value"))
            )
        )
        .otherwise(pl.lit([], REASON_VALUES))
        .cast(REASON_VALUES)
    )
    message = pl.col("message").str.replace_all(
        "{field}", name.fill_null(""), literal=True
    )
    line = pl.col("line_no").is_not_null() & (pl.col("table") != "XML1")
    item = pl.when(line).then(pl.col("item_code"))
    return entries.with_columns(
        name.alias("field"), values.alias("values"), message.alias("message")
    ).with_columns(
        with_values(pl.col("message"), item, pl.col("values")).alias("message")
    )


def leftover(messages: pl.Expr) -> pl.Expr:
    """Whether a message still holds a placeholder (a bug: tests look for it)."""
    return messages.str.contains(PLACEHOLDER.pattern)


__all__ = [
    "filled",
    "fired_rules",
    "leftover",
    "listing",
    "placeholders",
    "rule_texts",
    "validation_entries",
    "value_list",
    "with_values",
]
