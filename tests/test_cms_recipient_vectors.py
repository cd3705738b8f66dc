"""The recipient vectors (OpenSSL's KARI and PWRI envelopes) against their manifest."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyscep import DEFAULT_POLICY, LEGACY, Certificate, DecryptionError, load_private_key
from pyscep.cms.enveloped import decrypt_envelope, open_with_password, parse_enveloped_data
from pyscep.crypto import KeyPair, get_backend
from pyscep.testing import SeededBackend

VECTORS = Path(__file__).parent / "vectors" / "recipients"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text())
ENTRIES = {entry["file"]: entry for entry in MANIFEST["entries"]}


def test_the_manifest_covers_every_vector() -> None:
    assert set(ENTRIES) == {p.name for p in VECTORS.glob("*.der")}
    assert {e["recipient_type"] for e in ENTRIES.values()} == {"kari", "pwri"}


def _open(entry: dict[str, Any]) -> bytes:
    envelope = parse_enveloped_data((VECTORS / entry["file"]).read_bytes())
    # 3DES is in the default policy; nothing here needs the legacy switch.
    if entry["recipient_type"] == "pwri":
        return open_with_password(
            envelope, entry["password"].encode(), backend=get_backend(), algorithms=DEFAULT_POLICY
        )
    pair = KeyPair(
        load_private_key((VECTORS / entry["key"]).read_bytes()),
        Certificate.load((VECTORS / entry["certificate"]).read_bytes()),
    )
    return decrypt_envelope(envelope, pair, backend=get_backend(), algorithms=DEFAULT_POLICY)[0]


@pytest.mark.parametrize("file", sorted(ENTRIES))
def test_vector_matches_its_manifest_entry(file: str) -> None:
    entry = ENTRIES[file]
    envelope = parse_enveloped_data((VECTORS / file).read_bytes())
    assert envelope.version == entry["envelope_version"]
    assert envelope.cipher_name == entry["contentEncryptionAlgorithm"]
    (recipient,) = envelope.recipients
    assert recipient.kind == entry["recipient_type"]
    assert recipient.key_encryption_algorithm == entry["keyEncryptionAlgorithm"]
    if recipient.agreement is not None:
        assert recipient.agreement.kdf_digest == entry["kdf_digest"]
        assert recipient.agreement.wrap_oid == entry["key_wrap_oid"]
        certificate = Certificate.load((VECTORS / entry["certificate"]).read_bytes())
        assert recipient.addressed_to(certificate)
    else:
        assert recipient.password is not None
        assert recipient.password.prf == entry["pbkdf2_prf"]
        assert recipient.password.iterations == entry["pbkdf2_iterations"]
        assert recipient.password.kek_cipher == entry["kek_cipher"]
    plaintext = _open(entry)
    assert plaintext == (VECTORS / entry["plaintext_file"]).read_bytes()
    assert hashlib.sha256(plaintext).hexdigest() == entry["plaintext_sha256"]


@pytest.mark.external
@pytest.mark.parametrize("file", sorted(ENTRIES))
def test_inspect_json_reports_the_manifest(file: str) -> None:
    entry = ENTRIES[file]
    secret = (
        ["--password", entry["password"]]
        if entry["recipient_type"] == "pwri"
        else ["--key", str(VECTORS / entry["key"])]
    )
    run = subprocess.run(
        [sys.executable, "-m", "pyscep", "inspect", str(VECTORS / file), *secret, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(run.stdout)
    assert found["kind"] == "EnvelopedData"
    assert found["version"] == entry["envelope_version"]
    assert found["contentEncryptionAlgorithm"] == entry["contentEncryptionAlgorithm"]
    assert found["plaintext_sha256"] == entry["plaintext_sha256"]
    used = found["decrypted_with"]
    assert used["type"] == entry["recipient_type"]
    assert used["keyEncryptionAlgorithm"] == entry["keyEncryptionAlgorithm"]
    for field in ("kdf_digest", "key_wrap_oid", "pbkdf2_prf", "pbkdf2_iterations", "kek_cipher"):
        if field in entry:
            assert used[field] == entry[field], field


@pytest.mark.parametrize("file", sorted(f for f, e in ENTRIES.items() if "password" in e))
def test_a_wrong_password_opens_no_vector(file: str) -> None:
    envelope = parse_enveloped_data((VECTORS / file).read_bytes())
    # A fixed vector and a seeded fallback key: the same outcome on every run.
    with pytest.raises(DecryptionError):
        open_with_password(envelope, b"guess", backend=SeededBackend(), algorithms=LEGACY)
