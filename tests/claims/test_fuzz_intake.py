"""Mutation fuzzer over valid submissions (issue 12, item 6): byte flips, truncation at
random offsets inside the wrapper and inside each base64 payload (encoded again),
duplicated HOSO blocks, invalid UTF-8 and swapped tags, alone or combined.

For every mutated file, in process: the reader returns a refused file (with its
sidecar receipt) or a submission, never a traceback; every HOSO the file holds is
stored or rejected with a reason (validation, the receipt and ``check``); every claim
that is not rejected kept as many rows of each table as its document has row
elements; no message carries an unformatted placeholder.

The default run is bounded (``FUZZ_EXAMPLES``); ``-m slow`` runs many more.
"""

from __future__ import annotations

import base64
import binascii
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from lxml import etree

from claims.config import Settings
from claims.intake import (
    FileFailure,
    Submission,
    failure_receipt,
    read_submission,
    submission_receipt,
)
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.inbox import default_date
from claims.pipeline.selfcheck import check_files
from claims.pipeline.stages import Frames, run_stages, stages_named
from claims.xml130 import PARSED_TABLES
from tests.fixtures import make_fixtures as mf

FUZZ_EXAMPLES = 40
"""Batches per default run: each batch is up to :data:`BATCH` mutated files, read,
validated and checked (every pipeline stage) together."""
SLOW_EXAMPLES = 500
BATCH = 6
MAX_BYTES = 1 << 30
LKS = (b"HSFZ1", b"HSFZ2", b"HSFZ3")
WRAPPER_TAGS = (
    "THONGTINDONVI",
    "MACSKCB",
    "THONGTINHOSO",
    "NGAYLAP",
    "SOLUONGHOSO",
    "DANHSACHHOSO",
    "HOSO",
    "FILEHOSO",
    "LOAIHOSO",
    "NOIDUNGFILE",
)
BAD_UTF8 = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe1\xbb", b"\x80\x80", b"\xc0\xaf")
VALIDATE = stages_named("validate")
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_TAG = re.compile(rb"</?([A-Za-z_][\w.\-:]*)")

Docs = list[list[tuple[bytes, bytes]]]
"""Per HOSO, its (LOAIHOSO, decoded document) pairs."""


# ----------------------------------------------------------------- the mutations


def _spot(data: bytes, where: float) -> int:
    return min(int(where * len(data)), max(len(data) - 1, 0))


def _flip(data: bytes, where: float, xor: int) -> bytes:
    if not data:
        return data
    at = _spot(data, where)
    return data[:at] + bytes([data[at] ^ xor]) + data[at + 1 :]


def _cut(data: bytes, where: float) -> bytes:
    return data[: _spot(data, where)]


def _bad_utf8(data: bytes, where: float, bad: bytes) -> bytes:
    at = _spot(data, where)
    return data[:at] + bad + data[at:]


def _swap_tags(data: bytes, first: int, second: int, names: list[str]) -> bytes:
    """Swap two element names everywhere they are tags (start and end tags)."""
    if len(names) < 2:
        return data
    a, b = names[first % len(names)], names[second % len(names)]
    if a == b:
        return data
    swap = {a.encode(): b.encode(), b.encode(): a.encode()}
    return re.sub(
        rb"(</?)(" + re.escape(a.encode()) + rb"|" + re.escape(b.encode()) + rb")\b",
        lambda m: m.group(1) + swap[m.group(2)],
        data,
    )


def _dup_hoso(data: bytes, which: int, before: int) -> bytes:
    """Copy one ``<HOSO>…</HOSO>`` block in front of another (or of the list end)."""
    blocks = [m.span() for m in re.finditer(rb"<HOSO>.*?</HOSO>", data, re.DOTALL)]
    if not blocks:
        return data
    start, end = blocks[which % len(blocks)]
    spots = [s for s, _ in blocks] + [blocks[-1][1]]
    at = spots[before % len(spots)]
    return data[:at] + data[start:end] + data[at:]


def _doc_names(doc: bytes) -> list[str]:
    return sorted({m.group(1).decode() for m in _TAG.finditer(doc)} - {"xml"})


@dataclass(frozen=True)
class DocMutation:
    """A change to one inner document (applied before base64)."""

    kind: str
    claim: int
    table: int
    where: float
    xor: int
    bad: bytes
    other: int

    def apply(self, docs: Docs) -> None:
        files = docs[self.claim % len(docs)]
        n = self.table % len(files)
        name, doc = files[n]
        match self.kind:
            case "flip":
                doc = _flip(doc, self.where, self.xor)
            case "cut":
                doc = _cut(doc, self.where)
            case "utf8":
                doc = _bad_utf8(doc, self.where, self.bad)
            case "swap":
                doc = _swap_tags(doc, self.other, self.xor, _doc_names(doc))
            case "relabel":  # two tables trade their LOAIHOSO
                m = self.other % len(files)
                other_name, other_doc = files[m]
                files[m] = (name, other_doc)
                name = other_name
        files[n] = (name, doc)


@dataclass(frozen=True)
class FileMutation:
    """A change to the wrapper's bytes (applied after base64)."""

    kind: str
    where: float
    xor: int
    bad: bytes
    first: int
    second: int

    def apply(self, data: bytes) -> bytes:
        match self.kind:
            case "flip":
                return _flip(data, self.where, self.xor)
            case "cut":
                return _cut(data, self.where)
            case "utf8":
                return _bad_utf8(data, self.where, self.bad)
            case "swap":
                return _swap_tags(data, self.first, self.second, list(WRAPPER_TAGS))
            case _:
                return _dup_hoso(data, self.first, self.second)


_where = st.floats(0, 1, exclude_max=True)
_xor = st.integers(1, 255)
_bad = st.sampled_from(BAD_UTF8)
_index = st.integers(0, 20)
doc_mutations = st.builds(
    DocMutation,
    st.sampled_from(("flip", "cut", "utf8", "swap", "relabel")),
    _index,
    _index,
    _where,
    _xor,
    _bad,
    _index,
)
file_mutations = st.builds(
    FileMutation,
    st.sampled_from(("flip", "cut", "utf8", "swap", "dup")),
    _where,
    _xor,
    _bad,
    _index,
    _index,
)


@dataclass(frozen=True)
class Mutant:
    """Mutations of the base submission: inner documents first, then the bytes."""

    docs: tuple[DocMutation, ...]
    file: tuple[FileMutation, ...]

    def build(self) -> bytes:
        docs: Docs = [
            [(k.encode(), v) for k, v in mf.claim_docs(lk).items()] for lk in LKS
        ]
        for change in self.docs:
            change.apply(docs)
        data = mf.wrapper([[(k, mf.b64(v)) for k, v in files] for files in docs])
        for edit in self.file:
            data = edit.apply(data)
        return data


mutants = st.builds(
    Mutant,
    st.lists(doc_mutations, max_size=3).map(tuple),
    st.lists(file_mutations, max_size=2).map(tuple),
).filter(lambda m: bool(m.docs or m.file))


# --------------------------------------------------------------------- the oracle


@dataclass(frozen=True)
class Held:
    """What the file holds, read independently of the engine (lxml, base64)."""

    hosos: int
    rows: dict[tuple[int, str], int]
    """(claim, table) → row elements in its document, where the document reads."""


def held_by(data: bytes) -> Held:
    """The HOSO elements present, and each readable document's row elements."""
    try:
        root = etree.fromstring(data, _SAFE)
    except etree.XMLSyntaxError:
        return Held(len(re.findall(rb"<HOSO[\s/>]", data)), {})
    rows: dict[tuple[int, str], int] = {}
    for n, hoso in enumerate(root.iter("HOSO")):
        for item in hoso.iter("FILEHOSO"):
            table = (item.findtext("LOAIHOSO") or "").strip().upper()
            if table not in PARSED_TABLES:
                continue
            try:
                text = re.sub(r"\s", "", item.findtext("NOIDUNGFILE") or "")
                doc = etree.fromstring(base64.b64decode(text, validate=True), _SAFE)
            except (binascii.Error, ValueError, etree.XMLSyntaxError):
                continue
            rows[(n, table)] = sum(
                1 for _ in doc.iter(PARSED_TABLES[table].row_element)
            )
    return Held(len(list(root.iter("HOSO"))), rows)


def problems_of(paths: list[Path], reference: Reference) -> dict[str, list[str]]:
    """Everything wrong with how the engine took each file (file name → problems).

    The files are read one by one, validated together, and checked together
    (``check_files`` runs every stage), as a day's inbox would be.
    """
    try:
        return _problems(paths, reference)
    except Exception:  # a traceback is itself the finding: which file raised?
        raised = f"raised: {traceback.format_exc(limit=-4)}"
        if len(paths) == 1:
            return {paths[0].name: [raised]}
        alone = {k: v for p in paths for k, v in problems_of([p], reference).items()}
        return alone or {p.name: [f"together with the others, {raised}"] for p in paths}


def _problems(paths: list[Path], reference: Reference) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {p.name: [] for p in paths}
    subs: list[Submission] = []
    for path in paths:
        result = read_submission(path, max_bytes=MAX_BYTES)
        if isinstance(result, FileFailure):
            sidecar = failure_receipt(result, "fuzz")
            if not result.message or sidecar["ma_ket_qua"] not in (201, 204):
                found[path.name].append(f"refused without a reason: {sidecar}")
            continue
        subs.append(result)
        held = held_by(path.read_bytes())
        if result.meta.hoso_count != held.hosos:
            found[path.name].append(
                f"{held.hosos} HOSO in the file, {result.meta.hoso_count} read"
            )
        found[path.name] += _row_problems(result, held)
    if subs:
        ctx = RunContext("fuzz", default_date(subs), reference, Settings())
        done = run_stages(ctx, Frames(submissions=tuple(subs)), stages=VALIDATE)
        claims = done.need("claims", done.claims)
        quarantine = done.need("quarantine", done.quarantine)
        for sub in subs:
            mine = pl.col("file_id") == sub.meta.file_id
            found[sub.meta.name] += _receipt_problems(
                sub, claims.filter(mine), quarantine.filter(mine)
            )
            found[sub.meta.name] += _kept_problems(sub, claims.filter(mine))
    rows, _ = check_files(paths, reference)
    for sub in subs:
        mine = [r for r in rows if r["file"] == sub.meta.name]
        found[sub.meta.name] += _check_problems(mine, sub.meta.hoso_count)
    return {k: v for k, v in found.items() if v}


def _receipt_problems(
    sub: Submission, claims: pl.DataFrame, quarantine: pl.DataFrame
) -> list[str]:
    receipt = submission_receipt(sub, claims, quarantine, "fuzz")
    entries = receipt["claims"]
    found = []
    if [e["stt"] for e in entries] != list(range(1, sub.meta.hoso_count + 1)):
        found.append(f"receipt lists {len(entries)} of {sub.meta.hoso_count} claims")
    stored = dict(zip(claims["hoso_idx"], claims["stored"], strict=True))
    for e in entries:
        if e["ma_ket_qua"] == 200 and not stored.get(e["stt"] - 1):
            found.append(f"claim {e['stt']} receipted 200 but not stored")
        if e["trang_thai"] == "rejected" and not e["ly_do"]:
            found.append(f"claim {e['stt']} rejected without a reason")
    return found


def _row_problems(sub: Submission, held: Held) -> list[str]:
    """A claim read without a claim error has every row its documents hold."""
    refused = set(sub.hoso_errors["hoso_idx"].to_list())
    found = []
    for (hoso, table), elements in held.rows.items():
        if hoso in refused:
            continue
        rows = sub.tables[table].filter(pl.col("hoso_idx") == hoso).height
        if rows != elements:
            found.append(f"claim {hoso + 1} {table}: {elements} elements, {rows} rows")
    return found


def _kept_problems(sub: Submission, claims: pl.DataFrame) -> list[str]:
    """Validation accounts for every claim: stored, or rejected with a reason."""
    found = []
    if sorted(claims["hoso_idx"].to_list()) != list(range(sub.meta.hoso_count)):
        found.append(f"validation has {claims.height} of {sub.meta.hoso_count} claims")
    for row in claims.iter_rows(named=True):
        if not row["stored"] and not row["claim_reasons"]:
            found.append(f"claim {row['hoso_idx'] + 1} neither stored nor rejected")
    return found


def _check_problems(rows: list[dict[str, Any]], declared: int) -> list[str]:
    found = []
    if [r.get("stt") for r in rows] != list(range(1, declared + 1)):
        found.append(f"check printed {len(rows)} objects for {declared} claims")
    for row in rows:
        if "outcome" not in row:
            found.append(f"check printed no outcome: {row}")
            continue
        if row["outcome"] == "rejected" and not row["reasons"]:
            found.append(f"check: claim {row['stt']} rejected without a reason")
        if any("{" in r["message"] for r in row["reasons"]):
            found.append(f"check: unformatted message in claim {row['stt']}")
    return found


# ---------------------------------------------------------------------- the tests


@dataclass
class Tally:
    """Trials (files) and the failures found."""

    trials: int = 0
    failures: list[tuple[Mutant, list[str]]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.trials} mutated files, {len(self.failures)} failures"


def fuzz(reference: Reference, folder: Path, examples: int) -> Tally:
    """Run ``examples`` batches of mutated files; every failure is collected, not
    raised, so the tally counts them all (no shrinking: each trial is a pipeline run)."""
    tally = Tally()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate),
    )
    @given(batch=st.lists(mutants, min_size=1, max_size=BATCH))
    def run(batch: list[Mutant]) -> None:
        files: dict[bytes, Mutant] = {}
        for mutant in batch:
            files.setdefault(mutant.build(), mutant)
        paths = []
        for n, data in enumerate(files):
            paths.append(folder / f"fuzz{n}.xml")
            paths[-1].write_bytes(data)
        found = problems_of(paths, reference)
        tally.trials += len(paths)
        for path, mutant in zip(paths, files.values(), strict=True):
            if path.name in found:
                tally.failures.append((mutant, found[path.name]))

    run()
    return tally


def test_the_unmutated_submission_is_read_whole(
    reference: Reference, tmp_path: Path
) -> None:
    path = tmp_path / "base.xml"
    path.write_bytes(Mutant((), ()).build())
    assert problems_of([path], reference) == {}
    rows, readable = check_files([path], reference)
    assert readable
    assert [r["ma_lk"] for r in rows] == [lk.decode() for lk in LKS]


def test_mutated_submissions_lose_no_claim(
    reference: Reference, tmp_path: Path
) -> None:
    tally = fuzz(reference, tmp_path, FUZZ_EXAMPLES)
    print(f"fuzz: {tally}")
    assert tally.trials >= FUZZ_EXAMPLES
    assert not tally.failures, (str(tally), tally.failures[:5])


@pytest.mark.slow
def test_mutated_submissions_lose_no_claim_long_run(
    reference: Reference, tmp_path: Path
) -> None:
    tally = fuzz(reference, tmp_path, SLOW_EXAMPLES)
    print(f"fuzz: {tally}")
    assert not tally.failures, (str(tally), tally.failures[:5])
