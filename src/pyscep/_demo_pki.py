"""PRIVATE: a throwaway CA and client for the demo and the docs' examples.

Generated in memory with pyca/cryptography; nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .certificate import Certificate

__all__ = ["DemoIdentity", "make_identity"]


@dataclass(frozen=True)
class DemoIdentity:
    """A certificate with its private key (PKCS#8 DER)."""

    certificate: Certificate
    key_der: bytes


def make_identity(
    common_name: str,
    *,
    now: datetime,
    issuer: DemoIdentity | None = None,
    ca: bool = False,
    days: int = 365,
) -> DemoIdentity:
    """An RSA-2048 key and a certificate for it, self-signed unless ``issuer`` is given."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pyscep demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    signing_key: Any
    if issuer is None:
        issuer_name, signing_key = name, key
    else:
        issuer_cert = issuer.certificate.to_cryptography()
        issuer_name = issuer_cert.subject
        signing_key = serialization.load_der_private_key(issuer.key_der, None)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    certificate = builder.sign(signing_key, hashes.SHA256())
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return DemoIdentity(Certificate.load(certificate), key_der)
