"""The fast path of signature verification: a wrapper already in canonical form.

Exclusive C14N (1.0, without comments) of a document changes its bytes only in ways
that are easy to rule out: it drops the XML declaration, whitespace outside the root
and namespace declarations no element or attribute uses; it writes every tag as
``<name attr="…">`` and ``</name>`` (never ``<name/>``), re-escapes text (``&amp;``,
``&lt;``, ``&gt;``, ``&#xD;``) and resolves other references and CDATA. A wrapper whose
root start tag holds only prefixed namespace declarations, whose elements below the root
carry no attributes and no prefixes, whose text holds no ``\\r``, no raw ``>`` and no
reference but ``&amp;``/``&lt;``/``&gt;``, with nothing but the declaration before the
root and whitespace after it, is its own canonical form once the root start tag is
written ``<GIAMDINHHS>`` and the signature element is cut out (the enveloped transform).
That is what the generator writes and what HIS exporters of compact XML write.

For such a file the document digest is one SHA-256 pass over the bytes read (a few
counts and an RE2 scan check the form first, at memory speed); only the small
``Signature`` element is parsed, by lxml. Anything else (comments, CDATA, ``<X/>``,
attributes, other entities, a ``\\r``, an unusual signature) returns None and is
verified by signxml over the whole tree (:mod:`claims.intake.signature`). The tests
check both paths on the same files, signed by the generator and by signxml itself.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from claims.xml130 import WRAPPER_ROOT

SLOT = b"CHUKYDONVI"
_ROOT = WRAPPER_ROOT.encode()
_DECLARATION = (
    rb"<\?xml\s+version\s*=\s*[\"']1\.[0-9][\"']"
    rb"(?:\s+encoding\s*=\s*[\"'](?i:utf-?8)[\"'])?"
    rb"(?:\s+standalone\s*=\s*[\"'](?:yes|no)[\"'])?\s*\?>"
)
_HEAD = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:"
    + _DECLARATION
    + rb")?\s*<"
    + _ROOT
    # only prefixed namespace declarations: none is used below (no prefixes there)
    + rb"(?:\s+xmlns:[A-Za-z_][\w.-]*\s*=\s*(?:\"[^\"<&]*\"|'[^'<&]*'))*\s*>"
)
_TAIL = re.compile(
    rb"</((?:[A-Za-z_][\w.-]*:)?)Signature>(\s*</"
    + SLOT
    + rb">\s*</"
    + _ROOT
    + rb">)\s*\Z"
)
_TAIL_WINDOW = 1 << 12
_SIMPLE_TAG = r"</?[A-Za-z_][\w.-]*>"
_ENTITY = r"&(?:amp|lt|gt);"


@dataclass(frozen=True)
class Canonical:
    """A wrapper in canonical form: its document digest and its signature element."""

    digest: bytes
    """SHA-256 of the exclusive C14N of the document without the signature."""
    signature: etree._Element


def canonical(data: bytes) -> Canonical | None:
    """The digest and signature of ``data`` when it is in canonical form, else None."""
    head = _HEAD.match(data)
    tail = _TAIL.search(data, max(0, len(data) - _TAIL_WINDOW))
    if head is None or tail is None:
        return None
    prefix = tail.group(1)
    sig_end = tail.start() + len(b"</" + prefix + b"Signature>")
    slot = data.rfind(b"<" + SLOT + b">", head.end(), tail.start())
    opening = re.compile(rb"\s*(<" + re.escape(prefix) + rb"Signature[\s>])")
    found = opening.match(data, slot + len(SLOT) + 2) if slot >= 0 else None
    if found is None:
        return None
    sig_start = found.start(1)
    view = memoryview(data)
    if not _simple(data, view, head.end(), sig_start):
        return None
    signature = _signature(bytes(view[sig_start:sig_end]))
    if signature is None:
        return None
    digest = hashlib.sha256(b"<" + _ROOT + b">")
    digest.update(view[head.end() : sig_start])
    digest.update(view[sig_end : tail.end(2)])
    return Canonical(digest.digest(), signature)


def _simple(data: bytes, view: memoryview, start: int, end: int) -> bool:
    """Whether ``data[start:end]`` is tags without attributes or prefixes and text
    C14N leaves as it is (counts with ``bytes.count`` and RE2, no copy)."""
    if data.find(b"\r", start, end) >= 0:
        return False
    array = _binary(view[start:end])
    tags = int(pc.count_substring_regex(array, _SIMPLE_TAG)[0].as_py())
    if not data.count(b"<", start, end) == tags == data.count(b">", start, end):
        return False
    entities = int(pc.count_substring_regex(array, _ENTITY)[0].as_py())
    return data.count(b"&", start, end) == entities


def _binary(view: memoryview) -> pa.Array:
    """``view`` as a one-value Arrow binary array over the same memory."""
    offsets = pa.py_buffer(struct.pack("<qq", 0, len(view)))
    return pa.Array.from_buffers(
        pa.large_binary(), 1, [None, offsets, pa.py_buffer(view)]
    )


def _signature(text: bytes) -> etree._Element | None:
    """The signature element alone, when it parses alone and canonicalises alone (no
    prefix declared outside it, no InclusiveNamespaces list)."""
    try:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False
        )
        element = etree.fromstring(text, parser)
    except etree.XMLSyntaxError:
        return None
    if any("InclusiveNamespaces" in str(e.tag) for e in element.iter()):
        return None
    return element
