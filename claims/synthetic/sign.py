"""Sign generated GIAMDINHHS files with a fixed test key (XML-DSig, reference §1.2).

The signature is enveloped in ``CHUKYDONVI`` and covers the whole document
(``Reference URI=""``, the enveloped-signature transform, exclusive C14N, SHA-256,
RSA-SHA256 PKCS#1 v1.5): what :mod:`claims.intake.signature` verifies. PKCS#1 v1.5 is
deterministic, so the same seed still gives the same bytes.

Large files: the generator writes its wrapper in canonical form already (no whitespace,
no attributes but two unused namespace declarations on the root, ``&``/``<``/``>``
escaped, no ``\\r``), so the digest is sha256 over the file's bytes after the XML
declaration, the root's start tag written without its namespace declarations (exclusive
C14N drops those no element uses) and the signature slot left empty (the enveloped
transform removes the signature): one pass over the bytes already in memory, no tree,
no copy. Only the small ``SignedInfo`` is canonicalised by
lxml. :func:`canonical_digest` refuses bytes this shortcut would get wrong, and the tests
verify generated files with signxml over the whole tree.

The key below is a TEST key, published here on purpose: every synthetic facility of
the built-in ``certificates`` catalog registers its certificate, so generated days pass
with signatures mandatory. It must never sign real claims.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from dataclasses import dataclass

import polars as pl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from claims.xml130 import WRAPPER_ROOT

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SLOT = b"<CHUKYDONVI></CHUKYDONVI>"
"""The empty signature element the generator writes; the signature goes inside."""
TEST_SUBJECT = "giamdinh synthetic facilities"
_START = re.compile(rb"<" + WRAPPER_ROOT.encode() + rb'(?: xmlns:\w+="[^"<&]*")*>')
"""The root's start tag as the generator writes it: namespace declarations only."""

TEST_KEY_PEM = b"""\
-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQC8qBpX4cNaOBVb
nV9bA5gjln8ljqgoK9xmjmDm7Db6aMdgkL9dMq0VdNB+M7bqRMiY6RehIcmxBCpk
XvEDkE/fS/GurgckBRYCXctfIhOw9z9aKxbpD3ne/V97/dGugNQQq4bwoVPwHY4U
VLumuOHf++6hIgDJgv0IxTt4/2RZgu/P9Zob3oOZ3WcUpUS38UsAoJK0yn5worcn
1IdpQtweF1Rl/lme3BUF9aHiuuIKR67AJ/enV4hObb7mXVcpC4j2vgnC5jzNDRsw
sgJqwSbCN+qIE7PgdM6jIZ7H9fXZsEEIr4J74KbtNDXuPXU13iJLRvAVtuR/Dyu8
Ie2/0RG7AgMBAAECggEAUkLYjcZu+KlowrRpzlVQYwAt+9HrB+0sIvnlTfvk8yZ5
/WTQVJKSvz7a5JSnJxqL/4Tv3T5O5GVlGLP/Uqb79Ol3/kt66J1hHfIJCjfhLzJ4
SNhuGny5jt6bYoToB7e8AHLSmZ027QXuHHZgBpAqSZDgWhlqD3QS4l6iEp4GAzMg
/73JpfbTvvDuiO+mu4NUYqkcz8OnD7h6G4MdmTuDBHI7mqD16GeOSiD484scpydZ
Pob0jTzoianv6CwcYx9jDbRjpIRLFyuaamDrazR8VS/Xk6caqLsnRrIHHtBWjMms
v3mDrHDacOE0XObVgHslFTXoNu9bS7J3svgwbV9GNQKBgQDvqzNh9MWHJnFOMep+
oH2ZqMzD43GRzuiJsSFs/GaDoRoF/vZBBzD6wVYJopenSBfCaxJ0EyUwboV1VsGG
VCbOAlmKovcJtfgGjNn5eIgEyil1lDY5hjx+D4xXDc+3A7u4qRoRdEWxZta+psUP
FsvoRcpalQUJN2ZY+2V03hi19wKBgQDJgwsZ+oHg1rF69YOCAr1Rf0RMg6oyVE3J
byVLioQ8ygnca9+BU5Ed8+otYGaYUoCwSivApYpdunKwjglKnVgqslIA2QwLcMkg
QBIx264hElNQNIsSOvTxZjOak3DDQgJwuMoMZ58N27lYf0QYmfdAltiNPErMBM84
TS7E3KcBXQKBgQCm4E2mpwfiUqISEC92e8j4dNAelP8+xxKizPK5MAUxIbs88YoF
PTydXIDLtKpjj477kBIJQEtkrY+/Y+jb3zwltP0jytS3rjxEU05ypboPm7PCarBW
3WDBZZISC0vV4oOS0CuWe58LJs/fb79GAll4ISAEcj5PbIOW8XRzKzGJgQKBgQCI
7ql+j8Ht/TZBbdBdamsnlCnfLKFc7fil5wca3BecD1bAF/WbNiQojHUXPKi63WVh
ZiVxFYx+wJHq87nQoDcnXGFo/hS3OX8SkTdL9hHPm1pN6EaQrst/tolegs5fgN2T
p550630jt6mtP14QsZ9Ynqis4Mma9bGyepBLaf16aQKBgQDENADVMNr4sBE/nRNd
UYxmPzYTEFZWw0Tsz4WH3b76TLb4Ni2GCGh0rttaGyv4w23sH6MQDH65up+lnn5c
bGOZYkUN6Ny6Js3noxrV15KAXMgbM6c8+IHGiPSKjhKrI8Y80zjsXRrZ5Wfv+4yv
h9B31SVJ4eomc9700pAc52uXUQ==
-----END PRIVATE KEY-----
"""
TEST_CERT_PEM = b"""\
-----BEGIN CERTIFICATE-----
MIIDgjCCAmqgAwIBAgIEATBHUDANBgkqhkiG9w0BAQsFADBxMQswCQYDVQQGEwJW
TjE6MDgGA1UECgwxZ2lhbWRpbmggKHN5bnRoZXRpYyB0ZXN0IGtleSwgbm90IGZv
ciBwcm9kdWN0aW9uKTEmMCQGA1UEAwwdZ2lhbWRpbmggc3ludGhldGljIGZhY2ls
aXRpZXMwIBcNMDAwMTAxMDAwMDAwWhgPMjA5OTEyMzEyMzU5NTlaMHExCzAJBgNV
BAYTAlZOMTowOAYDVQQKDDFnaWFtZGluaCAoc3ludGhldGljIHRlc3Qga2V5LCBu
b3QgZm9yIHByb2R1Y3Rpb24pMSYwJAYDVQQDDB1naWFtZGluaCBzeW50aGV0aWMg
ZmFjaWxpdGllczCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBALyoGlfh
w1o4FVudX1sDmCOWfyWOqCgr3GaOYObsNvpox2CQv10yrRV00H4ztupEyJjpF6Eh
ybEEKmRe8QOQT99L8a6uByQFFgJdy18iE7D3P1orFukPed79X3v90a6A1BCrhvCh
U/AdjhRUu6a44d/77qEiAMmC/QjFO3j/ZFmC78/1mhveg5ndZxSlRLfxSwCgkrTK
fnCityfUh2lC3B4XVGX+WZ7cFQX1oeK64gpHrsAn96dXiE5tvuZdVykLiPa+CcLm
PM0NGzCyAmrBJsI36ogTs+B0zqMhnsf19dmwQQivgnvgpu00Ne49dTXeIktG8BW2
5H8PK7wh7b/REbsCAwEAAaMgMB4wDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMC
BsAwDQYJKoZIhvcNAQELBQADggEBAFq31PMyEKTOMYk8kgl7dFD5qdR12OLxeNUy
m5Gvlv2hwSZye3+xTj4YJh8ExT5kHaUsZgHs4fmatiFojB2D+4ROOroivDsjGw4P
RE05Bx/S2w//dMLFyeVTdRi7c5gUjmyzV6g7sJXgqsXPqyMo4Fu6vOVxjVyJojmP
6m44auITiC3F3kkxeuTqFEOn0MANCwQ7jzZgwYZBVXH34hNQAJjRtCCTgnPyL3F/
O0imIxRP6YaylK6JEKOVEq92xpV6LElAcsTwzqbk1l1QZAkNJNYOoO0lCp5G8qNg
A51b7u+D7FLjhp72f0JmiyJzS1yZIBzARpflMuFG1wQ21aSIJVw=
-----END CERTIFICATE-----
"""


@dataclass(frozen=True)
class Signer:
    """A private key and its certificate (DER), as a facility's signing token holds."""

    key: rsa.RSAPrivateKey
    certificate: bytes

    @property
    def fingerprint(self) -> str:
        """sha256 of the certificate's DER, hex: how a catalog registers it."""
        return hashlib.sha256(self.certificate).hexdigest()


@functools.cache
def fixed_signer() -> Signer:
    """The fixed test key and its self-signed certificate (valid 2000–2099)."""
    key = serialization.load_pem_private_key(TEST_KEY_PEM, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):  # pragma: no cover - the constant
        msg = "the test key is not an RSA key"
        raise TypeError(msg)
    cert = x509.load_pem_x509_certificate(TEST_CERT_PEM)
    return Signer(key, cert.public_bytes(serialization.Encoding.DER))


def canonical_digest(body: bytes) -> bytes:
    """sha256 of the exclusive C14N of a generated wrapper without its signature.

    Raises:
        ValueError: ``body`` is not in the generator's canonical form (the shortcut
            would sign something else than a verifier canonicalises).
    """
    start = _START.search(body, 0, 1 << 10)
    closing = SLOT + f"</{WRAPPER_ROOT}>".encode()
    if start is None or not body.endswith(closing) or b"\r" in body:
        msg = "not a generated wrapper in canonical form: it cannot be signed here"
        raise ValueError(msg)
    digest = hashlib.sha256(f"<{WRAPPER_ROOT}>".encode())
    digest.update(memoryview(body)[start.end() :])
    return digest.digest()


def sign_wrapper(body: bytes, signer: Signer) -> list[bytes | memoryview]:
    """The signed file as pieces to write one after the other (no copy of the body).

    Args:
        body: a generated wrapper with an empty ``<CHUKYDONVI></CHUKYDONVI>``.
        signer: the key and certificate.
    """
    digest = canonical_digest(body)
    signature = _signature(digest, signer)
    cut = body.rfind(SLOT) + len(b"<CHUKYDONVI>")
    view = memoryview(body)
    return [view[:cut], signature, view[cut:]]


def _signature(digest: bytes, signer: Signer) -> bytes:
    """``ds:Signature`` with ``SignedInfo`` over ``digest``, signed and with the
    certificate in ``KeyInfo``."""
    ds = f"{{{DS}}}"
    root = etree.Element(f"{ds}Signature", nsmap={"ds": DS})
    info = etree.SubElement(root, f"{ds}SignedInfo")
    etree.SubElement(info, f"{ds}CanonicalizationMethod", Algorithm=EXC_C14N)
    etree.SubElement(info, f"{ds}SignatureMethod", Algorithm=RSA_SHA256)
    ref = etree.SubElement(info, f"{ds}Reference", URI="")
    transforms = etree.SubElement(ref, f"{ds}Transforms")
    etree.SubElement(transforms, f"{ds}Transform", Algorithm=ENVELOPED)
    etree.SubElement(transforms, f"{ds}Transform", Algorithm=EXC_C14N)
    etree.SubElement(ref, f"{ds}DigestMethod", Algorithm=SHA256)
    etree.SubElement(ref, f"{ds}DigestValue").text = base64.b64encode(digest).decode()
    signed = etree.tostring(info, method="c14n", exclusive=True)
    value = signer.key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    etree.SubElement(root, f"{ds}SignatureValue").text = base64.b64encode(
        value
    ).decode()
    data = etree.SubElement(etree.SubElement(root, f"{ds}KeyInfo"), f"{ds}X509Data")
    cert = base64.b64encode(signer.certificate).decode()
    etree.SubElement(data, f"{ds}X509Certificate").text = cert
    return bytes(etree.tostring(root))


def certificate_rows(facilities: pl.DataFrame) -> pl.DataFrame:
    """The ``certificates`` catalog rows registering the test certificate for every
    facility of ``facilities`` (``python -m claims.synthetic.seed``)."""
    signer = fixed_signer()
    return (
        facilities.select("ma_cskcb")
        .unique()
        .sort("ma_cskcb")
        .with_columns(
            sha256=pl.lit(signer.fingerprint),
            subject=pl.lit(f"CN={TEST_SUBJECT} (test key)"),
            valid_from=pl.lit(None, pl.Date),
            valid_to=pl.lit(None, pl.Date),
        )
    )
