"""The reference server's CA: keys and certificates in a state directory.

Created on first start (under a lock, so workers starting together make one
CA): ``ca.pem`` / ``ca.key``, with ``--ra`` an RA certificate (sign and
encrypt) ``ra.pem`` / ``ra.key``, with ``--next-ca`` a rollover CA
``next-ca.pem`` / ``next-ca.key``. Keys are written 0600.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from pyscep.certificate import Certificate
from pyscep.crypto import KeyPair, load_private_key

from .durable import write_durably
from .keys import new_private_key

__all__ = ["FileCA", "write_private"]


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by its owner only (0600), replacing any old file."""
    write_durably(path, data, mode=0o600)


_Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _key(kind: str) -> _Key:
    key = serialization.load_pem_private_key(new_private_key(kind), None)
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
    return key


def _pem_key(key: _Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    subject: str,
    key: _Key,
    *,
    issuer: tuple[x509.Name, _Key] | None,
    now: datetime,
    ca: bool,
) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pyscep serve"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject),
        ]
    )
    issuer_name, issuer_key = issuer if issuer is not None else (name, key)
    is_ec = isinstance(key, ec.EllipticCurvePrivateKey)
    usage = {
        "digital_signature": True,
        "content_commitment": False,
        # What opens requests: RSA key transport for an RSA RA, ECDH for an EC key.
        "key_encipherment": not ca and not is_ec,
        "data_encipherment": False,
        "key_agreement": is_ec,
        "key_cert_sign": ca,
        "crl_sign": ca,
        "encipher_only": False,
        "decipher_only": False,
    }
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650 if ca else 730))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


@dataclass(frozen=True)
class FileCA:
    """The CA (and optional RA and next CA) of one state directory."""

    ca: KeyPair
    ra: KeyPair | None
    next_ca: KeyPair | None

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        ra: bool,
        next_ca: bool,
        now: datetime,
        ca_key_type: str = "rsa2048",
    ) -> FileCA:
        """Load the CA of ``directory``, creating what is missing (a new CA of ``ca_key_type``).

        The RA, when asked for, is RSA: every SCEP client can encrypt to it.
        """
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            ca_pair = _load_or_create(
                directory, "ca", "pyscep serve CA", None, now, ca=True, key_type=ca_key_type
            )
            ra_pair = (
                _load_or_create(directory, "ra", "pyscep serve RA", ca_pair, now, ca=False)
                if ra
                else None
            )
            next_pair = (
                _load_or_create(
                    directory,
                    "next-ca",
                    "pyscep serve next CA",
                    None,
                    now,
                    ca=True,
                    key_type=ca_key_type,
                )
                if next_ca
                else None
            )
        return cls(ca_pair, ra_pair, next_pair)


def _load_or_create(
    directory: Path,
    stem: str,
    subject: str,
    issuer: KeyPair | None,
    now: datetime,
    *,
    ca: bool,
    key_type: str = "rsa2048",
) -> KeyPair:
    key_file, cert_file = directory / f"{stem}.key", directory / f"{stem}.pem"
    if not (key_file.exists() and cert_file.exists()):
        key = _key(key_type)
        signing = None
        if issuer is not None:
            issuer_key = serialization.load_pem_private_key(
                (directory / "ca.key").read_bytes(), None
            )
            assert isinstance(issuer_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
            signing = (issuer.certificate.to_cryptography().subject, issuer_key)
        certificate = _certificate(subject, key, issuer=signing, now=now, ca=ca)
        write_private(key_file, _pem_key(key))
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return KeyPair(
        load_private_key(key_file.read_bytes()), Certificate.load(cert_file.read_bytes())
    )
