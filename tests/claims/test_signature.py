"""Signed submissions (issue 16 item 4): the generator signs with its fixed test key,
intake verifies the CHUKYDONVI XML signature against the ``certificates`` catalog once
``Settings.signatures_required_from`` is set, and refused files get a receipt."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner, methods  # type: ignore[attr-defined]

from claims.config import Settings
from claims.errors import ReasonCode
from claims.intake import (
    FileFailure,
    SignaturePolicy,
    Submission,
    check_signature,
    read_submission,
    scan_submission,
)
from claims.intake.canonical import canonical
from claims.intake.signature import DS, verify_canonical, verify_tree
from claims.pipeline.daily import run_inbox
from claims.pipeline.inbox import signature_policy
from claims.synthetic import generate, generate_day, write_xml
from claims.synthetic.sign import (
    TEST_CERT_PEM,
    TEST_KEY_PEM,
    Signer,
    fixed_signer,
    sign_wrapper,
)

MAX = 1 << 30
MANDATORY = date(2026, 1, 1)
"""Before the generated day (2026-10-15), after the example fixture (2025-10-06)."""
EXAMPLE = Path(__file__).parents[1] / "fixtures" / "good"
SIGNATURE = re.compile(rb"<ds:Signature .*?</ds:Signature>", re.DOTALL)


@pytest.fixture(scope="module")
def day_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same generated day written unsigned and signed (2 facilities)."""
    root = tmp_path_factory.mktemp("signed")
    day = generate_day(claims=60, facilities=2, seed=3)
    write_xml(day, root / "plain")
    write_xml(day, root / "signed", sign=True)
    return root / "plain", root / "signed"


def _policy(settings: Settings | None = None) -> SignaturePolicy:
    policy = signature_policy(settings or Settings(signatures_required_from=MANDATORY))
    assert policy is not None
    return policy


def _read(path: Path, policy: SignaturePolicy | None) -> Submission | FileFailure:
    scan = scan_submission(path, max_bytes=MAX)
    return read_submission(path, max_bytes=MAX, scan=scan, signatures=policy)


def _refused(path: Path, policy: SignaturePolicy) -> FileFailure:
    result = _read(path, policy)
    assert isinstance(result, FileFailure), path
    return result


def _other_signer() -> Signer:
    """A facility's own key and self-signed certificate (not the test key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Cơ sở khác")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
        .sign(key, hashes.SHA256())
    )
    return Signer(key, cert.public_bytes(Encoding.DER))


def _sign_with(source: Path, target: Path, signer: Signer) -> Path:
    with target.open("wb") as handle:
        for piece in sign_wrapper(source.read_bytes(), signer):
            handle.write(piece)
    return target


def test_a_signed_file_verifies_and_reads_as_the_unsigned_one(
    day_files: tuple[Path, Path],
) -> None:
    plain, signed = day_files
    policy = _policy()
    for path in sorted(signed.iterdir()):
        assert b"<ds:SignatureValue>" in path.read_bytes()
        with_check = _read(path, policy)
        assert isinstance(with_check, Submission), with_check
        without = _read(plain / path.name, None)
        assert isinstance(without, Submission)
        assert with_check.meta.hoso_count == without.meta.hoso_count > 0
        for table, frame in without.tables.items():
            other = with_check.tables[table].drop("file_id")
            assert other.equals(frame.drop("file_id")), table


def test_one_changed_byte_in_a_hoso_is_signature_invalid(
    day_files: tuple[Path, Path], tmp_path: Path
) -> None:
    source = sorted(day_files[1].iterdir())[0]
    data = bytearray(source.read_bytes())
    at = data.index(b"<NOIDUNGFILE>") + len(b"<NOIDUNGFILE>") + 40
    data[at] = ord("A") if data[at] != ord("A") else ord("B")  # still base64
    tampered = tmp_path / source.name
    tampered.write_bytes(bytes(data))
    failure = _refused(tampered, _policy())
    assert failure.reason is ReasonCode.SIGNATURE_INVALID
    assert "bị sửa sau khi ký" in failure.message
    assert "Digest mismatch" in failure.message


def test_unsigned_is_missing_from_the_mandatory_date_and_accepted_before(
    day_files: tuple[Path, Path],
) -> None:
    path = sorted(day_files[0].iterdir())[0]
    failure = _refused(path, _policy())
    assert failure.reason is ReasonCode.SIGNATURE_MISSING
    assert "2026-10-15" in failure.message
    assert "2026-01-01" in failure.message
    later = _policy(Settings(signatures_required_from=date(2026, 10, 16)))
    assert isinstance(_read(path, later), Submission)
    on_the_day = _policy(Settings(signatures_required_from=date(2026, 10, 15)))
    assert _refused(path, on_the_day).reason is ReasonCode.SIGNATURE_MISSING
    assert signature_policy(Settings()) is None


def test_the_existing_fixtures_are_exempt() -> None:
    fixtures = sorted(EXAMPLE.glob("*.xml"))
    assert fixtures
    policy = _policy()
    for path in fixtures:
        assert b"<ds:Signature" not in path.read_bytes()
        assert not isinstance(_read(path, policy), FileFailure), path


def test_a_file_without_ngaylap_must_be_signed(
    day_files: tuple[Path, Path], tmp_path: Path
) -> None:
    source = sorted(day_files[0].iterdir())[0]
    undated = tmp_path / source.name
    undated.write_bytes(
        re.sub(rb"<NGAYLAP>\d+</NGAYLAP>", b"", source.read_bytes(), count=1)
    )
    failure = _refused(undated, _policy())
    assert failure.reason is ReasonCode.SIGNATURE_MISSING
    assert "không có NGAYLAP" in failure.message


def test_another_facilitys_certificate_is_signature_invalid(
    day_files: tuple[Path, Path], tmp_path: Path
) -> None:
    source = sorted(day_files[0].iterdir())[0]
    sender = source.name[:5]
    own, elsewhere = _other_signer(), "99999"
    certificates = pl.DataFrame(
        {
            "ma_cskcb": [sender, elsewhere],
            "sha256": [own.fingerprint, fixed_signer().fingerprint],
            "valid_from": [None, None],
            "valid_to": [None, None],
        },
        schema_overrides={"valid_from": pl.Date, "valid_to": pl.Date},
    )
    policy = SignaturePolicy(MANDATORY, certificates)
    with_own = _sign_with(source, tmp_path / "own.xml", own)
    assert isinstance(_read(with_own, policy), Submission)
    foreign = _sign_with(source, tmp_path / "foreign.xml", fixed_signer())
    failure = _refused(foreign, policy)
    assert failure.reason is ReasonCode.SIGNATURE_INVALID
    assert f"không được đăng ký cho cơ sở {sender}" in failure.message
    assert fixed_signer().fingerprint[:16] in failure.message
    expired = policy.certificates.with_columns(
        valid_to=pl.when(pl.col("ma_cskcb") == sender).then(date(2026, 6, 30))
    )
    failure = _refused(with_own, SignaturePolicy(MANDATORY, expired))
    assert failure.reason is ReasonCode.SIGNATURE_INVALID
    assert "2026-10-15" in failure.message


def test_a_signature_moved_out_of_chukydonvi_is_invalid(
    day_files: tuple[Path, Path], tmp_path: Path
) -> None:
    source = sorted(day_files[1].iterdir())[0]
    data = source.read_bytes()
    found = SIGNATURE.search(data)
    assert found is not None
    moved = data.replace(found.group(0), b"").replace(
        b"</THONGTINDONVI>", found.group(0) + b"</THONGTINDONVI>"
    )
    path = tmp_path / source.name
    path.write_bytes(moved)
    failure = _refused(path, _policy())
    assert failure.reason is ReasonCode.SIGNATURE_INVALID
    assert "không nằm trong <GIAMDINHHS>/<CHUKYDONVI>" in failure.message


@pytest.mark.parametrize("budget", [None, 1], ids=["one-batch", "partitioned"])
def test_the_daily_run_refuses_with_a_receipt(
    day_files: tuple[Path, Path], tmp_path: Path, budget: int | None
) -> None:
    plain, signed = day_files
    names = sorted(p.name for p in signed.iterdir())
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(signed / names[0], inbox / names[0])
    shutil.copy(plain / names[1], inbox / names[1])
    data = bytearray((signed / names[1]).read_bytes())
    at = data.index(b"<MACSKCB>") + len(b"<MACSKCB>")
    data[at : at + 5] = (signed / names[0]).name[:5].encode()  # claims another sender
    (inbox / "tampered.xml").write_bytes(bytes(data))
    settings = Settings(
        data_dir=tmp_path / "data",
        signatures_required_from=MANDATORY,
        memory_budget=budget,
    )
    result = run_inbox(inbox, settings=settings)
    by_file = {r["file"]: r for r in result.files.to_dicts()}
    assert by_file[names[0]]["status"] == "stored"
    assert by_file[names[0]]["claims"] > 0
    assert by_file[names[1]]["reason"] == "SIGNATURE_MISSING"
    assert by_file["tampered.xml"]["reason"] == "SIGNATURE_INVALID"
    sidecar = settings.failed_dir / f"{names[1]}.error.json"
    receipt = json.loads(sidecar.read_text(encoding="utf-8"))
    assert receipt["code"] == "SIGNATURE_MISSING"
    assert "CHUKYDONVI" in receipt["huong_dan"]


def test_same_seed_same_signed_bytes(tmp_path: Path) -> None:
    args = {"claims": 120, "facilities": 3, "seed": 11}
    one = generate(tmp_path / "a", sign=True, **args)  # type: ignore[arg-type]
    two = generate(tmp_path / "b", sign=True, **args)  # type: ignore[arg-type]
    plain = generate(tmp_path / "c", **args)  # type: ignore[arg-type]
    assert [p.name for p in one.files] == [p.name for p in two.files]
    for a, b, c in zip(one.files, two.files, plain.files, strict=True):
        signed = a.read_bytes()
        assert (
            hashlib.sha256(signed).digest() == hashlib.sha256(b.read_bytes()).digest()
        )
        assert SIGNATURE.sub(b"", signed) == c.read_bytes()
        value = re.search(rb"<ds:SignatureValue>([^<]+)<", signed)
        assert value is not None
        assert len(base64.b64decode(value.group(1))) == 256  # RSA-2048


# ---- the two verification paths agree -------------------------------------------------


def _signxml_signed(data: bytes, *, pretty: bool = False) -> bytes:
    """``data`` signed by signxml's own XMLSigner in CHUKYDONVI (an independent signer
    of the same profile), with the generator's test key."""
    root = etree.fromstring(data)
    if pretty:
        etree.indent(root)
        root.insert(1, etree.Comment(" xuất từ HIS "))
    slot = root.find("CHUKYDONVI")
    assert slot is not None
    etree.SubElement(slot, f"{{{DS}}}Signature", Id="placeholder")
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    signed = signer.sign(root, key=TEST_KEY_PEM, cert=TEST_CERT_PEM.decode())
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="utf-8"))


def _both_paths(data: bytes, tmp_path: Path) -> tuple[bool, object, object]:
    """Whether ``data`` takes the canonical path; what each path says of it."""
    path = tmp_path / "f.xml"
    path.write_bytes(data)
    policy, on = _policy(), date(2026, 10, 15)
    sender = re.search(rb"<MACSKCB>(\w+)</MACSKCB>", data)
    assert sender is not None
    fast = canonical(data)
    root = etree.fromstring(data)
    slow = verify_tree(root, policy, sender.group(1).decode(), on)
    quick = (
        None
        if fast is None
        else verify_canonical(fast, policy, sender.group(1).decode(), on)
    )
    return fast is not None, quick, slow


def test_generated_files_take_the_canonical_path_and_signxml_agrees(
    day_files: tuple[Path, Path], tmp_path: Path
) -> None:
    for path in sorted(day_files[1].iterdir()):
        data = path.read_bytes()
        assert _both_paths(data, tmp_path) == (True, None, None)
        at = data.index(b"<NOIDUNGFILE>") + 20
        bad = data[:at] + (b"B" if data[at : at + 1] == b"A" else b"A") + data[at + 1 :]
        fast, quick, slow = _both_paths(bad, tmp_path)
        assert fast
        assert _code(quick) is ReasonCode.SIGNATURE_INVALID
        assert _code(slow) is ReasonCode.SIGNATURE_INVALID


def test_a_file_signed_by_signxml_verifies_on_both_paths(
    day_files: tuple[Path, Path], tmp_path: Path
) -> None:
    plain = sorted(day_files[0].iterdir())[0].read_bytes()
    compact = _signxml_signed(plain)
    assert _both_paths(compact, tmp_path) == (True, None, None)
    pretty = _signxml_signed(plain, pretty=True)  # newlines, indentation, a comment
    assert _both_paths(pretty, tmp_path)[0] is False
    assert _both_paths(pretty, tmp_path)[2] is None
    assert _read_bytes(pretty, tmp_path) is None
    changed = pretty.replace(b"<SOLUONGHOSO>", b"<SOLUONGHOSO>1", 1)
    assert _code(_read_bytes(changed, tmp_path)) is ReasonCode.SIGNATURE_INVALID


def _read_bytes(data: bytes, tmp_path: Path) -> object:
    path = tmp_path / "whole.xml"
    path.write_bytes(data)
    scan = scan_submission(path, max_bytes=MAX)
    sender = re.search(rb"<MACSKCB>(\w+)</MACSKCB>", data)
    assert sender is not None
    return check_signature(
        path,
        _policy(),
        sender=sender.group(1).decode(),
        ngay_lap="20261015",
        tail=scan.edges,
    )


def _code(refusal: object) -> object:
    """The reason code of a refusal (None when accepted)."""
    return refusal[0] if isinstance(refusal, tuple) else refusal


def test_giamdinh_generate_signs_by_default_and_not_with_no_sign(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from claims.cli.app import app

    runner = CliRunner()
    common = ["generate", "--claims", "40", "--facilities", "2", "--seed", "2"]
    for folder, extra in (("signed", []), ("plain", ["--no-sign"])):
        out = runner.invoke(app, [*common, "--out", str(tmp_path / folder), *extra])
        assert out.exit_code == 0, out.output
    signed = sorted((tmp_path / "signed").glob("*.xml"))
    plain = sorted((tmp_path / "plain").glob("*.xml"))
    assert len(signed) == len(plain) == 2
    for a, b in zip(signed, plain, strict=True):
        assert b"<CHUKYDONVI></CHUKYDONVI>" in b.read_bytes()
        assert SIGNATURE.sub(b"", a.read_bytes()) == b.read_bytes()
        assert _read(a, _policy()).__class__ is Submission
