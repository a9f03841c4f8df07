"""Verify a submission's XML signature (CHUKYDONVI, reference §1.2) once it is mandatory.

The facility signs the whole GIAMDINHHS document: an enveloped XML-DSig in
``CHUKYDONVI`` with ``Reference URI=""``, the enveloped-signature transform, exclusive
C14N, SHA-256 digest and RSA-SHA256. signxml (or the canonical-form path below) checks
the digest and the signature; this module decides which certificate may sign: the one
in the signature's ``KeyInfo``, whose sha256 (of the DER) the ``certificates`` catalog
registers for the file's sender (MACSKCB) on the file's date (NGAYLAP), and whose own
validity covers that date.

Which files: only XML files whose NGAYLAP is on or after
``Settings.signatures_required_from`` (a file without a readable NGAYLAP counts as
after it); older files, bulk table folders and the self-check are not read for a
signature at all.

Two paths, one answer (the tests run both on the same files): a wrapper already in
canonical form (:mod:`claims.intake.canonical`: compact XML as the generator and most
exporters write it) is digested from its bytes in one SHA-256 pass, and only its small
``SignedInfo`` is canonicalised (lxml) and checked with the certificate's RSA key
(cryptography): a few ms per MB, no tree. Any other file is parsed whole by lxml and
verified by signxml (tens of ms per MB, peak memory several times the file). Both are
measured in ``benchmarks/README.md``. Files are read one at a time per reading thread; a
file above ``Settings.max_file_bytes`` was refused before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from claims.errors import ReasonCode
from claims.intake.canonical import Canonical, canonical
from claims.intake.xmlsafe import diagnose_wrapper
from claims.xml130 import WRAPPER_ROOT

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SLOT = "CHUKYDONVI"
"""The wrapper element holding the signature."""
_SIGNATURE_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Signature[\s>/]")
_CONFIG = SignatureConfiguration(
    location=f"./{SLOT}/",
    signature_methods=frozenset({SignatureMethod.RSA_SHA256}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
)
Refusal = tuple[ReasonCode, str]


@dataclass(frozen=True)
class SignaturePolicy:
    """When signatures are mandatory and which certificates each facility registered.

    Attributes:
        required_from: files dated (NGAYLAP) on or after this day must be signed.
        certificates: the resolved ``certificates`` catalog: ``ma_cskcb``, ``sha256``
            (hex of the certificate's DER), ``valid_from``, ``valid_to`` (null: open).
    """

    required_from: date
    certificates: pl.DataFrame

    def required(self, ngay_lap: str | None) -> bool:
        """Whether a file created on ``ngay_lap`` (``yyyyMMdd``) must be signed."""
        made = file_date(ngay_lap)
        return made is None or made >= self.required_from

    def registered(self, facility: str, fingerprint: str, on: date) -> bool:
        """Whether ``facility`` registered the certificate ``fingerprint`` on ``on``."""
        rows = self.certificates.filter(
            (pl.col("ma_cskcb") == facility)
            & (pl.col("sha256").str.to_lowercase() == fingerprint)
            & (pl.col("valid_from").is_null() | (pl.col("valid_from") <= on))
            & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= on))
        )
        return rows.height > 0


def file_date(ngay_lap: str | None) -> date | None:
    """NGAYLAP (``yyyyMMdd``, possibly with a time after it) as a date, if it is one."""
    text = (ngay_lap or "").strip()[:8]
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def check_signature(
    path: Path,
    policy: SignaturePolicy,
    *,
    sender: str | None,
    ngay_lap: str | None,
    tail: bytes,
) -> Refusal | None:
    """Why ``path`` is refused for its signature, or None (signed well, or exempt).

    Args:
        path: a GIAMDINHHS file whose wrapper scan found no problem.
        policy: the mandatory date and the registered certificates.
        sender: its MACSKCB; ngay_lap: its NGAYLAP (both as the scan read them).
        tail: its last bytes (the scan's ``edges``), where CHUKYDONVI is.
    """
    if not policy.required(ngay_lap):
        return None
    made = file_date(ngay_lap)
    since = policy.required_from.isoformat()
    if not _SIGNATURE_TAG.search(tail):
        msg = (
            f"tệp lập ngày {made or ngay_lap or '(không có NGAYLAP)'} không có chữ ký số "
            f"trong <{SLOT}>; từ {since} mọi tệp phải được cơ sở ký số"
        )
        return ReasonCode.SIGNATURE_MISSING, msg
    data = path.read_bytes()
    on = made or policy.required_from
    fast = canonical(data)
    if fast is not None:
        return verify_canonical(fast, policy, sender or "", on)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError:
        return diagnose_wrapper(path)
    del data
    return verify_tree(root, policy, sender or "", on)


def _trusted(
    signature: etree._Element | None, policy: SignaturePolicy, sender: str, on: date
) -> x509.Certificate | Refusal:
    """The signature's certificate when its form and certificate may be trusted."""
    invalid = ReasonCode.SIGNATURE_INVALID
    if signature is None:
        msg = f"chữ ký số không nằm trong <{WRAPPER_ROOT}>/<{SLOT}>"
        return invalid, msg
    problem = _algorithms(signature)
    if problem is not None:
        return invalid, problem
    found = _certificate(signature)
    if isinstance(found, str):
        return invalid, found
    fingerprint = hashlib.sha256(found.public_bytes(Encoding.DER)).hexdigest()
    if not policy.registered(sender, fingerprint, on):
        msg = (
            f"chứng thư số ký tệp (sha256 {fingerprint[:16]}…, "
            f"{found.subject.rfc4514_string()}) không được đăng ký cho cơ sở "
            f"{sender or '(không có MACSKCB)'} tại ngày {on.isoformat()}"
        )
        return invalid, msg
    return found


def verify_canonical(
    fast: Canonical, policy: SignaturePolicy, sender: str, on: date
) -> Refusal | None:
    """A canonical-form file: the digest from its bytes, SignedInfo's RSA-SHA256
    signature checked with the registered certificate's key (cryptography)."""
    invalid = ReasonCode.SIGNATURE_INVALID
    found = _trusted(fast.signature, policy, sender, on)
    if isinstance(found, tuple):
        return found
    moment = _moment(on)
    if not found.not_valid_before_utc <= moment <= found.not_valid_after_utc:
        msg = (
            f"chứng thư số ký tệp không còn hiệu lực tại ngày {on.isoformat()} (hiệu "
            f"lực {found.not_valid_before_utc.date()} – {found.not_valid_after_utc.date()})"
        )
        return invalid, msg
    info = fast.signature.find(f"{{{DS}}}SignedInfo")
    method = None if info is None else info.find(f"{{{DS}}}SignatureMethod")
    ref = None if info is None else info.find(f"{{{DS}}}Reference/{{{DS}}}DigestMethod")
    key = found.public_key()
    if (
        info is None
        or method is None
        or method.get("Algorithm") != SignatureMethod.RSA_SHA256.value
        or ref is None
        or ref.get("Algorithm") != DigestAlgorithm.SHA256.value
        or not isinstance(key, rsa.RSAPublicKey)
    ):
        return invalid, "chữ ký số phải dùng RSA-SHA256 và băm SHA-256"
    value = _base64(fast.signature.findtext(f"{{{DS}}}SignatureValue"))
    signed = etree.tostring(info, method="c14n", exclusive=True)
    try:
        key.verify(value, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return invalid, "giá trị chữ ký (SignatureValue) không khớp SignedInfo"
    expected = _base64(info.findtext(f"{{{DS}}}Reference/{{{DS}}}DigestValue"))
    if not hmac.compare_digest(expected, fast.digest):
        msg = (
            "chữ ký số không khớp nội dung tệp (tệp bị sửa sau khi ký?): giá trị băm "
            "SHA-256 của tệp khác DigestValue đã ký (Digest mismatch)"
        )
        return invalid, msg
    return None


def verify_tree(
    root: etree._Element, policy: SignaturePolicy, sender: str, on: date
) -> Refusal | None:
    """Any other file: the certificate and algorithms checked here, then signxml
    verifies the signature over the whole tree."""
    found = _trusted(root.find(f"{SLOT}/{{{DS}}}Signature"), policy, sender, on)
    if isinstance(found, tuple):
        return found
    moment = _moment(on)
    config = SignatureConfiguration(
        location=_CONFIG.location,
        signature_methods=_CONFIG.signature_methods,
        digest_algorithms=_CONFIG.digest_algorithms,
        verification_time=moment,
    )
    try:
        XMLVerifier().verify(root, x509_cert=found, expect_config=config)
    except (SignXMLException, ValueError) as exc:
        msg = f"chữ ký số không khớp nội dung tệp (tệp bị sửa sau khi ký?): {exc}"
        return ReasonCode.SIGNATURE_INVALID, msg
    return None


def _parser() -> etree.XMLParser:
    """A safe parser for whole wrappers (one per call: threads read files at once)."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=True, load_dtd=False
    )


def _moment(on: date) -> datetime:
    """Noon UTC of the file's date: when its certificate must be valid."""
    return datetime(on.year, on.month, on.day, 12, tzinfo=UTC)


def _base64(text: str | None) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _algorithms(signature: etree._Element) -> str | None:
    """The signature must be over the whole document, exclusive C14N, enveloped."""
    info = signature.find(f"{{{DS}}}SignedInfo")
    refs = [] if info is None else info.findall(f"{{{DS}}}Reference")
    method = None if info is None else info.find(f"{{{DS}}}CanonicalizationMethod")
    if len(refs) != 1 or refs[0].get("URI") != "":
        return 'chữ ký số phải có đúng một Reference URI="" (ký toàn bộ tệp)'
    transforms = [
        t.get("Algorithm")
        for t in refs[0].iterfind(f"{{{DS}}}Transforms/{{{DS}}}Transform")
    ]
    if method is None or method.get("Algorithm") != EXC_C14N:
        return f"SignedInfo phải chuẩn hóa bằng exclusive C14N ({EXC_C14N})"
    if transforms != [ENVELOPED, EXC_C14N]:
        return (
            "Reference phải có hai phép biến đổi: enveloped-signature rồi exclusive "
            f"C14N; tệp có: {', '.join(str(t) for t in transforms) or 'không có'}"
        )
    return None


def _certificate(signature: etree._Element) -> x509.Certificate | str:
    """The signing certificate of ``KeyInfo``, or why there is none."""
    texts = signature.findall(
        f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"
    )
    if len(texts) != 1 or not (texts[0].text or "").strip():
        return "chữ ký số phải mang đúng một chứng thư số (KeyInfo/X509Certificate)"
    try:
        der = base64.b64decode("".join((texts[0].text or "").split()), validate=True)
        return x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as exc:
        return f"chứng thư số trong chữ ký không đọc được: {exc}"
