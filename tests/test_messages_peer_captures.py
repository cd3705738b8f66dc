"""Conformance with real peers: every vector in tests/vectors against its manifest entry."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509

from pyscep import LEGACY, Certificate, MessageType, ParseError, get_backend, load_decrypter
from pyscep.cli import main
from pyscep.cms.enveloped import decrypt_envelope
from pyscep.http import decode_get_message, query_parameter
from pyscep.messages.ca import parse_ca_certificates
from pyscep.messages.caps import CACaps
from pyscep.messages.inspect import describe_certificate, describe_content
from pyscep.messages.pkimessage import (
    PKIMessage,
    decrypt_pki_message,
    parse_pki_message,
    verify_cert_rep,
    verify_request,
)
from tests.support.helpers import NOW

VECTORS = Path(__file__).parent / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text())
ENTRIES = {entry["file"]: entry for entry in MANIFEST["entries"]}
CA = Certificate.load((VECTORS / MANIFEST["ca"]["certificate"]).read_bytes())

MESSAGES = [f for f, e in ENTRIES.items() if e.get("messageType") and f.endswith(".der")]
CAPS = [f for f, e in ENTRIES.items() if "caps" in e]
CA_CERTS = [f for f, e in ENTRIES.items() if "ca_certificates" in e]
URLS = [f for f in ENTRIES if f.endswith(".url.txt")]
ERRORS = [f for f, e in ENTRIES.items() if "error_body" in e]
#: The manifest fields `pyscep inspect --json` can know from the bytes and keys.
INSPECT_FIELDS = (
    "messageType", "messageType_name", "transactionID", "senderNonce", "recipientNonce",
    "pkiStatus", "pkiStatus_name", "failInfo", "failInfo_name", "digestAlgorithm",
    "signatureAlgorithm", "signatureAlgorithm_oid", "signatureAlgorithm_pss_params",
    "contentEncryptionAlgorithm", "contentEncryptionAlgorithm_oid", "keyEncryptionAlgorithm",
    "signer_certificate", "envelope_recipient", "inner", "ca_certificates", "payload", "caps",
    "trailing_newline", "line_separator", "sha256",
)  # fmt: skip


def test_every_vector_is_covered() -> None:
    assert len(ENTRIES) == 66
    covered = set(MESSAGES) | set(CAPS) | set(CA_CERTS) | set(URLS) | set(ERRORS)
    assert covered == set(ENTRIES)


@cache
def _request_of(exchange: str) -> PKIMessage:
    """The verified request of an exchange (the CertRep is checked against it)."""
    file = next(
        f
        for f, e in ENTRIES.items()
        if e["exchange"] == exchange and f.endswith(".req.der") and e.get("messageType")
    )
    return verify_request(parse_pki_message((VECTORS / file).read_bytes()), algorithms=LEGACY)


def _verified(file: str) -> PKIMessage:
    entry = ENTRIES[file]
    message = parse_pki_message((VECTORS / file).read_bytes())
    if message.message_type is MessageType.CERT_REP:
        return verify_cert_rep(
            message, ca_certificates=[CA], request=_request_of(entry["exchange"]), algorithms=LEGACY
        )
    return verify_request(message, algorithms=LEGACY)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex().upper()


@pytest.mark.parametrize("file", MESSAGES)
def test_message_matches_manifest(file: str) -> None:
    entry = ENTRIES[file]
    data = (VECTORS / file).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    message = _verified(file)
    assert message.message_type.wire == entry["messageType"]
    assert message.message_type.display_name == entry["messageType_name"]
    assert message.transaction_id == entry["transactionID"]
    assert _hex(message.sender_nonce) == entry["senderNonce"]
    assert _hex(message.recipient_nonce) == entry["recipientNonce"]
    assert (message.pki_status.wire if message.pki_status is not None else None) == entry[
        "pkiStatus"
    ]
    fail_name = message.fail_info.rfc_name if message.fail_info is not None else None
    assert fail_name == entry["failInfo_name"]
    assert message.digest_algorithm == entry["digestAlgorithm"]
    assert message.signature_algorithm == entry["signatureAlgorithm"]
    assert message.signature_algorithm_oid == entry["signatureAlgorithm_oid"]
    assert describe_certificate(message.signer_certificate) == entry["signer_certificate"]
    envelope = message.envelope
    assert (envelope.cipher_name if envelope else None) == entry["contentEncryptionAlgorithm"]
    assert (envelope.cipher_oid if envelope else None) == entry["contentEncryptionAlgorithm_oid"]
    details = entry["details"]
    assert [c["serial"] for c in details["certificates"]] == [
        c.serial_number for c in message.certificates
    ]
    if envelope is not None:
        recipient = envelope.recipients[0]
        assert recipient.key_encryption_algorithm == entry["keyEncryptionAlgorithm"]
        assert recipient.serial == entry["envelope_recipient"]["serial"]
        assert recipient.issuer_der is not None
        issuer = x509.Name.load(recipient.issuer_der).human_friendly
        assert issuer == entry["envelope_recipient"]["issuer"]
        assert (
            recipient.key_encryption_parameters
            == (details["recipientInfos"][0]["keyEncryptionAlgorithm_params"])
        )


def _decrypter_for(file: str) -> Any:
    entry = ENTRIES[file]
    key = (VECTORS / entry["decrypt_key"]).read_bytes()
    message = parse_pki_message((VECTORS / file).read_bytes())
    # Requests go to the CA; a CertRep goes back to the request's signer.
    certificate = (
        _request_of(entry["exchange"]).signer_certificate
        if message.message_type is MessageType.CERT_REP
        else CA
    )
    return load_decrypter(key, certificate)


@pytest.mark.parametrize("file", [f for f in MESSAGES if ENTRIES[f]["decrypt_key"]])
def test_decrypts_to_manifest_inner(file: str) -> None:
    entry = ENTRIES[file]
    message = _verified(file)
    decrypter = _decrypter_for(file)
    assert message.envelope is not None
    plaintext, _, _ = decrypt_envelope(
        message.envelope, decrypter, backend=get_backend(), algorithms=LEGACY
    )
    assert hashlib.sha256(plaintext).hexdigest() == entry["details"]["inner_sha256"]
    content = decrypt_pki_message(message, decrypter)
    assert describe_content(content) == entry["inner"]


@pytest.mark.parametrize("file", CAPS)
def test_caps_match_manifest(file: str) -> None:
    entry = ENTRIES[file]
    caps = CACaps.parse((VECTORS / file).read_bytes())
    assert list(caps.keywords) == entry["caps"]
    assert caps.trailing_newline == entry["trailing_newline"]
    assert caps.line_separator == entry["line_separator"]
    assert caps.dump() == (VECTORS / file).read_bytes()


@pytest.mark.parametrize("file", CA_CERTS)
def test_ca_certificates_match_manifest(file: str) -> None:
    found = parse_ca_certificates((VECTORS / file).read_bytes(), now=NOW)
    assert [describe_certificate(c) for c in found.certificates] == ENTRIES[file]["ca_certificates"]
    assert found.encryption == found.ca == CA


@pytest.mark.parametrize("file", URLS)
def test_get_requests(file: str) -> None:
    entry = ENTRIES[file]
    line = (VECTORS / file).read_text()
    if entry["operation"] == "PKIOperation":
        der_file = file.replace(".url.txt", ".der")
        assert (
            decode_get_message(query_parameter(line, "message") or "")
            == (VECTORS / der_file).read_bytes()
        )
    else:
        assert query_parameter(line, "message") == entry["message_param"]
        assert query_parameter(line, "operation") == entry["operation"]


@pytest.mark.parametrize("file", ERRORS)
def test_error_bodies_are_not_scep(file: str) -> None:
    from pyscep.messages.inspect import inspect_payload

    with pytest.raises(ParseError):
        inspect_payload((VECTORS / file).read_bytes())


def _inspect_args(file: str, tmp_path: Path) -> list[str]:
    entry = ENTRIES[file]
    args = [str(VECTORS / file), "--json", "--cert", str(VECTORS / MANIFEST["ca"]["certificate"])]
    if entry.get("decrypt_key"):
        # The key alone: a CertRep is addressed to the requester's throw-away
        # certificate, which the CertRep does not carry and nobody has kept.
        args += ["--key", str(VECTORS / entry["decrypt_key"])]
    return args


def _inspect_json(file: str, args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    status = main(["inspect", *args])
    output: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert status == 0, output["errors"]
    return output


def _manifest_fields(file: str) -> list[str]:
    compared = [name for name in INSPECT_FIELDS if name in ENTRIES[file]]
    assert compared
    return compared


def _renewed_by_existing_certificate(file: str) -> bool:
    """A CertRep whose envelope goes to a certificate our CA issued (renewal)."""
    recipient = ENTRIES[file].get("envelope_recipient") or {}
    return ENTRIES[file].get("messageType") == "3" and recipient.get("issuer") == CA.subject


@pytest.mark.parametrize("file", MESSAGES + CAPS + CA_CERTS)
def test_inspect_json_reproduces_manifest(
    file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--key and --cert CA only: a CertRep is opened without the requester's certificate."""
    entry = ENTRIES[file]
    output = _inspect_json(file, _inspect_args(file, tmp_path), capsys)
    expected = {n: entry[n] for n in _manifest_fields(file)}
    if _renewed_by_existing_certificate(file):
        # The renewed certificate's subject is in no byte of the CertRep; every
        # other field, the decrypted content included, is.
        expected["envelope_recipient"] = {
            **entry["envelope_recipient"],
            "recipient_cert_subject": None,
        }
        assert output["recipient_cert_subject_source"].startswith("unknown")
    assert {n: output.get(n) for n in expected} == expected
    if entry.get("decrypt_key"):
        assert output["decrypted_with"]["serial"] == entry["envelope_recipient"]["serial"]


@pytest.mark.parametrize("file", [f for f in MESSAGES if _renewed_by_existing_certificate(f)])
def test_inspect_names_a_renewed_recipient_given_its_certificate(
    file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "existing.der"
    existing.write_bytes(_request_of(ENTRIES[file]["exchange"]).signer_certificate.der)
    output = _inspect_json(file, [*_inspect_args(file, tmp_path), "--cert", str(existing)], capsys)
    assert {n: output.get(n) for n in _manifest_fields(file)} == {
        n: ENTRIES[file][n] for n in _manifest_fields(file)
    }


def test_inspect_opens_a_request_with_the_ca_key_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = "sscep-0.10.0_pkcsreq_aes128_sha256.req.der"
    entry = ENTRIES[file]
    output = _inspect_json(
        file, [str(VECTORS / file), "--json", "--key", str(VECTORS / entry["decrypt_key"])], capsys
    )
    assert output["inner"] == entry["inner"]
    assert output["decrypted_with"]["issuer"] == entry["envelope_recipient"]["issuer"]


@pytest.mark.external
def test_inspect_command_line_entry_point(tmp_path: Path) -> None:
    file = "strongswan-pki-5.9.8_renewalreq1_des3_sha256.req.der"
    result = subprocess.run(
        [sys.executable, "-m", "pyscep", "inspect", *_inspect_args(file, tmp_path)],
        capture_output=True,
        check=True,
    )
    output = json.loads(result.stdout)
    assert output["messageType_name"] == "RenewalReq"
    assert output["inner"] == ENTRIES[file]["inner"]


def test_inspect_strict_and_malformed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    micromdm_reply = (
        "micromdm-scepclient-2.1.0_renewalreq.resp.micromdm-scepserver-2.1.0.certrep-success.der"
    )
    assert main(["inspect", str(VECTORS / micromdm_reply)]) == 0
    assert main(["inspect", "--strict", str(VECTORS / micromdm_reply)]) == 1
    assert "finding: legacy-algorithm" in capsys.readouterr().out
    broken = tmp_path / "broken.der"
    broken.write_bytes((VECTORS / micromdm_reply).read_bytes()[:-10])
    assert main(["inspect", str(broken)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("pyscep inspect: ParseError")
