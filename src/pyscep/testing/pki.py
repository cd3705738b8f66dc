"""Throw-away identities for tests and examples: a CA, a device, each with a fresh key.

Generated in memory with pyca/cryptography; nothing is written to disk.
Keys are RSA-2048 (``key_type="ec"`` gives P-256; ``ml-dsa-65``, ``ml-kem-768``...
give post-quantum keys, their certificates made by pyscep).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from pyscep.certificate import Certificate
from pyscep.crypto import Decrypter, Signer, load_decrypter, load_signer
from pyscep.errors import LocalProtocolError
from pyscep.messages.content import CertificationRequest
from pyscep.messages.identity import issue_certificate

__all__ = ["DemoIdentity", "make_identity"]


@dataclass(frozen=True)
class DemoIdentity:
    """A certificate with its private key (PKCS#8 DER)."""

    certificate: Certificate
    key_der: bytes

    @property
    def signer(self) -> Signer:
        """A Signer over the key and certificate."""
        return load_signer(self.key_der, self.certificate)

    @property
    def decrypter(self) -> Decrypter:
        """A Decrypter over the key and certificate (an EC key's is also a KeyAgreer)."""
        return load_decrypter(self.key_der, self.certificate)

    def issue(
        self, request: CertificationRequest, *, now: datetime, days: int = 365
    ) -> Certificate:
        """As a CA: a certificate for ``request`` (see `pyscep.messages.issue_certificate`)."""
        return issue_certificate(self.signer, request, now=now, days=days)


def make_identity(
    common_name: str,
    *,
    now: datetime,
    issuer: DemoIdentity | None = None,
    ca: bool = False,
    days: int = 365,
    key_type: str = "rsa",
) -> DemoIdentity:
    """A new key and a certificate for it, self-signed unless ``issuer`` is given.

    ``key_type``: ``rsa`` (2048 bits), ``ec`` or ``ec-p256``, ``ec-p384``, ``ec-p521``;
    ``ml-dsa-44``, ``ml-dsa-65``, ``ml-dsa-87``, ``ml-kem-768``, ``ml-kem-1024`` (an
    ML-KEM key cannot sign, so it needs an ``issuer``).
    """
    if key_type.startswith("ml-"):
        return _post_quantum_identity(common_name, now, issuer, ca, days, key_type)
    curves = {"ec": ec.SECP256R1, "ec-p256": ec.SECP256R1, "ec-p384": ec.SECP384R1}
    curves["ec-p521"] = ec.SECP521R1
    key: Any
    if key_type in curves:
        key = ec.generate_private_key(curves[key_type]())
    elif key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise LocalProtocolError(f"unknown key type {key_type!r}")
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


def _post_quantum_identity(
    common_name: str,
    now: datetime,
    issuer: DemoIdentity | None,
    ca: bool,
    days: int,
    key_type: str,
) -> DemoIdentity:
    """An ML-DSA or ML-KEM identity, its certificate made by pyscep (pyca/cryptography
    builds no certificate with these keys)."""
    from pyscep._appkit.keys import new_private_key
    from pyscep.crypto import load_private_key
    from pyscep.messages.identity import KeyToCertify, self_signed_certificate

    key_pem = new_private_key(key_type)
    key = load_private_key(key_pem)
    subject = f"O=pyscep demo,CN={common_name}"
    if issuer is None:
        if key_type.startswith("ml-kem"):
            raise LocalProtocolError("an ML-KEM key cannot sign: give it an issuer")
        certificate = self_signed_certificate(key, subject, now=now, days=days, ca=ca)
    else:
        certificate = issue_certificate(
            issuer.signer, KeyToCertify.of(key.public_key_der, subject), now=now, days=days
        )
    key_der = serialization.load_pem_private_key(key_pem, None).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return DemoIdentity(certificate, key_der)
