"""XML external entities, DTDs and entity expansion are refused everywhere.

Every way in is tried: the wrapper (internal entity, external file entity, external DTD
and parameter entity over the network, billion laughs, a DTD behind a long comment), the
same inside a HOSO payload (a parsed table and a raw one), and the safe-path functions
``parse_doc``, ``check_doc`` and ``diagnose_wrapper`` called directly. The entity target
is a file written in ``tmp_path`` and watched with inotify, and the network target is a
local HTTP server that counts requests, so "nothing was resolved" is observed, not
assumed; the first test shows an unsafe parser does leak the same target.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import polars as pl
import pytest
from lxml import etree

from claims.config import Settings
from claims.errors import ReasonCode
from claims.intake import FileFailure, Submission, read_submission
from claims.intake.xmlsafe import check_doc, diagnose_wrapper, parse_doc
from claims.pipeline.daily import run_inbox
from tests.fixtures import make_fixtures as mf

SECRET = "GIAMDINH-SECRET-5e1f"
SECRET_TEXT = f"root:x:0:0:{SECRET}:/root:/bin/bash\n"
NET_SECRET = "GIAMDINH-NET-SECRET-77c0"
INTERNAL = "GIAMDINH-INTERNAL-ENTITY-2b9d"
LAUGH = "lollollollol"
MARKERS = (SECRET, "root:x:0:0", NET_SECRET, INTERNAL, LAUGH)
"""Text that only an expanded entity could put into an output."""
FAST = 2.0
"""Seconds: refusing a billion laughs must not take longer than reading a file."""

KINDS = ("internal", "external_file", "external_dtd_http", "parameter_http", "laughs")
WRAPPER_ROOT = b"GIAMDINHHS"


# ------------------------------------------------------------------- harness


class OpenWatch:
    """Reports whether anything opened or read a file since the last look (inotify)."""

    IN_ACCESS, IN_OPEN = 0x1, 0x20

    def __init__(self, path: Path) -> None:
        if not sys.platform.startswith("linux"):
            pytest.skip("inotify is Linux-only")
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            pytest.skip("inotify unavailable")
        mask = self.IN_ACCESS | self.IN_OPEN
        if libc.inotify_add_watch(self.fd, os.fsencode(path), mask) < 0:
            os.close(self.fd)
            pytest.skip("inotify watch refused")

    def touched(self) -> bool:
        events = b""
        while True:
            try:
                chunk = os.read(self.fd, 4096)
            except BlockingIOError:
                return bool(events)
            events += chunk

    def close(self) -> None:
        os.close(self.fd)


@dataclass
class Targets:
    """Where an entity could reach: a local file and a local HTTP server."""

    secret: Path
    watch: OpenWatch
    url: str
    hits: list[str]

    def assert_untouched(self) -> None:
        assert not self.watch.touched(), "the entity target file was opened"
        assert self.hits == [], "a DTD or entity was fetched over the network"


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[Targets]:
    secret = tmp_path / "passwd"
    secret.write_text(SECRET_TEXT, encoding="utf-8")
    hits: list[str] = []
    body = f'<!ENTITY net "{NET_SECRET}">'.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/xml-dtd")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    watch = OpenWatch(secret)
    url = f"http://127.0.0.1:{server.server_address[1]}/giamdinhhs.dtd"
    try:
        yield Targets(secret, watch, url, hits)
    finally:
        watch.close()
        server.shutdown()
        server.server_close()
        thread.join()


def doctype(kind: str, root: bytes, targets: Targets) -> tuple[bytes, bytes]:
    """(DOCTYPE declaration, entity reference to place in an element) of ``kind``."""
    name = b"<!DOCTYPE " + root
    url = targets.url.encode()
    match kind:
        case "internal":
            return name + b' [<!ENTITY e "' + INTERNAL.encode() + b'">]>', b"&e;"
        case "external_file":
            uri = targets.secret.as_uri().encode()
            return name + b' [<!ENTITY e SYSTEM "' + uri + b'">]>', b"&e;"
        case "external_dtd_http":
            return name + b' SYSTEM "' + url + b'">', b"&net;"
        case "parameter_http":
            return name + b' [<!ENTITY % p SYSTEM "' + url + b'"> %p;]>', b"&net;"
        case "laughs":
            return mf.BILLION_LAUGHS.replace(b"{root}", root), b"&lol9;"
    raise AssertionError(kind)


def entity_wrapper(kind: str, targets: Targets, *, padding: bytes = b"") -> bytes:
    """The example wrapper with a DOCTYPE of ``kind`` and the entity used in MACSKCB."""
    decl, ref = doctype(kind, WRAPPER_ROOT, targets)
    data = mf.with_doctype(mf.example(), padding + decl)
    return data.replace(b"<MACSKCB>01030<", b"<MACSKCB>" + ref + b"01030<", 1)


RAW_XML7 = (
    mf.DECLARATION + b"<CHI_TIEU_DU_LIEU_GIAY_RA_VIEN><MA_LK>HSEX220251006</MA_LK>"
    b"<GHI_CHU>ra vien</GHI_CHU></CHI_TIEU_DU_LIEU_GIAY_RA_VIEN>"
)
INNER: dict[str, tuple[Callable[[], bytes], bytes]] = {
    # table → (a valid document of the second claim, element to hold the entity)
    "XML1": (lambda: mf.other_docs()["XML1"], b"HO_TEN"),
    "XML2": (lambda: mf.other_docs()["XML2"], b"TEN_THUOC"),
    "XML7": (lambda: RAW_XML7, b"GHI_CHU"),
}


def entity_doc(kind: str, table: str, targets: Targets) -> bytes:
    """An inner document of ``table`` carrying an entity of ``kind``."""
    make, element = INNER[table]
    doc = make()
    root = doc[len(mf.DECLARATION) :].split(b">", 1)[0].lstrip(b"<")
    decl, ref = doctype(kind, root, targets)
    doc = doc.replace(b"<" + element + b">", b"<" + element + b">" + ref, 1)
    return mf.with_doctype(doc, decl)


def entity_hoso_file(kind: str, table: str, targets: Targets) -> bytes:
    """The good claim, then a second claim whose ``table`` payload carries the entity."""
    docs = mf.other_docs()
    docs[table] = entity_doc(kind, table, targets)
    return mf.wrapper([mf.good_claim(), mf.claim_files(docs)])


def expanded(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


def frame_text(frame: pl.DataFrame) -> str:
    strings = [c for c, t in frame.schema.items() if t == pl.String]
    return "\n".join(
        "\n".join(v for v in frame[c].to_list() if v is not None) for c in strings
    )


def timed_read(path: Path) -> tuple[Submission | FileFailure, float]:
    started = time.perf_counter()
    result = read_submission(path, max_bytes=2**31)
    return result, time.perf_counter() - started


# ------------------------------------------------------- the harness can see leaks


def test_an_unsafe_parser_would_reach_the_targets(targets: Targets) -> None:
    decl, ref = doctype("external_file", b"R", targets)
    doc = decl + b"<R>" + ref + b"</R>"
    unsafe = etree.XMLParser(resolve_entities=True, load_dtd=True)
    assert SECRET in etree.tostring(etree.fromstring(doc, unsafe)).decode()
    assert targets.watch.touched()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(targets.url, timeout=5) as response:
        assert NET_SECRET.encode() in response.read()
    assert targets.hits == ["/giamdinhhs.dtd"]


# ------------------------------------------------------------------ the wrapper


@pytest.mark.parametrize("kind", KINDS)
def test_wrapper_entities_are_refused(
    kind: str, targets: Targets, tmp_path: Path
) -> None:
    path = tmp_path / f"{kind}.xml"
    path.write_bytes(entity_wrapper(kind, targets))
    result, seconds = timed_read(path)
    targets.assert_untouched()
    assert seconds < FAST
    assert isinstance(result, FileFailure)
    assert not expanded(result.message)
    assert result.reason is ReasonCode.FILE_DTD_FORBIDDEN


LONG_COMMENT = b"<!-- xuat tu HIS <GIAMDINHHS> " + b"=" * 70_000 + b" -->"
"""A comment longer than the 64 KiB the prolog checks look at, before the DOCTYPE."""


@pytest.mark.parametrize("kind", ["external_file", "laughs", "internal"])
def test_wrapper_dtd_behind_a_long_comment_is_refused(
    kind: str, targets: Targets, tmp_path: Path
) -> None:
    path = tmp_path / f"padded-{kind}.xml"
    path.write_bytes(entity_wrapper(kind, targets, padding=LONG_COMMENT))
    result, seconds = timed_read(path)
    targets.assert_untouched()
    assert seconds < FAST
    if isinstance(result, Submission):
        text = [frame_text(f) for f in (*result.tables.values(), result.raw_docs)]
        assert not expanded("\n".join(text))
        assert not expanded(str(result.meta))
    assert isinstance(result, FileFailure), "a DOCTYPE was accepted"
    assert result.reason is ReasonCode.FILE_DTD_FORBIDDEN


# ------------------------------------------------------------ inside a HOSO


@pytest.mark.parametrize("table", sorted(INNER))
@pytest.mark.parametrize("kind", KINDS)
def test_hoso_entities_reject_only_their_claim(
    kind: str, table: str, targets: Targets, tmp_path: Path
) -> None:
    path = tmp_path / f"{kind}-{table}.xml"
    path.write_bytes(entity_hoso_file(kind, table, targets))
    result, seconds = timed_read(path)
    targets.assert_untouched()
    assert seconds < FAST
    assert isinstance(result, Submission)
    text = [frame_text(f) for f in (*result.tables.values(), result.raw_docs)]
    assert not expanded("\n".join(text) + frame_text(result.hoso_errors))
    errors = result.hoso_errors.select("hoso_idx", "table", "reason_code").rows()
    assert errors == [(1, table, ReasonCode.HOSO_DTD_FORBIDDEN.value)]
    xml1 = result.tables["XML1"]
    assert xml1.filter(pl.col("hoso_idx") == 0)["ma_lk"].to_list() == [
        mf.GOOD_LK.decode()
    ]


# ------------------------------------------------------ the whole run's outputs


def test_no_entity_reaches_any_output_of_a_run(
    targets: Targets, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for kind in KINDS:
        (inbox / f"w-{kind}.xml").write_bytes(entity_wrapper(kind, targets))
        padded = entity_wrapper(kind, targets, padding=LONG_COMMENT)
        (inbox / f"p-{kind}.xml").write_bytes(padded)
        for table in INNER:
            data = entity_hoso_file(kind, table, targets)
            (inbox / f"h-{kind}-{table}.xml").write_bytes(data)
    settings = Settings(data_dir=tmp_path / "data")
    result = run_inbox(inbox, settings=settings, run_date="2025-10-06")
    targets.assert_untouched()
    assert result.run_dir is not None
    found: dict[str, list[str]] = {}
    for path in settings.data_dir.rglob("*"):
        if path.suffix == ".json":
            text = path.read_text(encoding="utf-8")
        elif path.suffix == ".parquet":
            text = frame_text(pl.read_parquet(path))
        else:
            continue
        if expanded(text):
            found[str(path.relative_to(settings.data_dir))] = expanded(text)
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        for table in tables:
            text = frame_text(con.sql(f'SELECT * FROM "{table}"').pl())
            if expanded(text):
                found[f"store:{table}"] = expanded(text)
    assert not found


# --------------------------------------------------- the safe path, called directly


@pytest.mark.parametrize("kind", KINDS)
def test_parse_doc_refuses_entities(kind: str, targets: Targets) -> None:
    doc = entity_doc(kind, "XML1", targets)
    started = time.perf_counter()
    with pytest.raises(ValueError, match="DTD") as info:
        parse_doc("XML1", doc)
    targets.assert_untouched()
    assert time.perf_counter() - started < FAST
    assert not expanded(str(info.value))


@pytest.mark.parametrize("kind", KINDS)
def test_check_doc_refuses_entities(kind: str, targets: Targets) -> None:
    doc = entity_doc(kind, "XML2", targets)
    started = time.perf_counter()
    reason = check_doc(doc)
    targets.assert_untouched()
    assert time.perf_counter() - started < FAST
    assert reason is not None
    assert "DTD" in reason
    assert not expanded(reason)


@pytest.mark.parametrize("cut", [False, True], ids=["whole", "truncated"])
@pytest.mark.parametrize("kind", KINDS)
def test_diagnose_wrapper_resolves_nothing(
    kind: str, cut: bool, targets: Targets, tmp_path: Path
) -> None:
    data = entity_wrapper(kind, targets)
    if cut:  # the way diagnose_wrapper is reached: the fast reader gave up
        data = data[: data.index(b"</HOSO>")]
    path = tmp_path / f"{kind}.xml"
    path.write_bytes(data)
    started = time.perf_counter()
    code, message = diagnose_wrapper(path)
    targets.assert_untouched()
    assert time.perf_counter() - started < FAST
    assert isinstance(code, ReasonCode)
    assert not expanded(message)


def test_committed_xxe_fixtures_never_show_etc_passwd(tmp_path: Path) -> None:
    bad = Path(mf.HERE) / "bad"
    names = ["dtd_xxe_file.xml", "dtd_billion_laughs.xml", "dtd_internal_entity.xml"]
    passwd = Path("/etc/passwd")
    if not passwd.exists() or "root:" not in passwd.read_text(errors="replace"):
        pytest.skip("no /etc/passwd with a root entry to leak")
    for name in names:
        result = read_submission(bad / name, max_bytes=2**31)
        assert isinstance(result, FileFailure)
        assert "root:" not in result.message
        shutil.copy(bad / name, tmp_path / name)
        cut = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(cut[: cut.index(b"</MACSKCB>")])
        assert "root:" not in diagnose_wrapper(tmp_path / name)[1]
