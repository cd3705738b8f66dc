"""Shared test helpers: key material and the openssl CLI."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from pyscep.certificate import Certificate
from pyscep.crypto import Decrypter, KeyPair, load_private_key
from pyscep.messages import RequestReference
from pyscep.testing import DemoIdentity, make_identity

# The fixed time of the deterministic tests: they pass it as ``now=`` to pyscep, which
# reads no clock. Never hand material made at NOW to a program that checks validity
# against its own clock (openssl verify, cms -verify without -noverify, a peer): make
# that material at current_time(), or tell the program the time (``-attime``).
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
BACKENDS = os.environ.get("PYSCEP_BACKENDS", "cryptography").split(",")

# OpenSSL 3 keeps single DES in its legacy provider.
_LEGACY_CONF = """openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
legacy = legacy_sect
[default_sect]
activate = 1
[legacy_sect]
activate = 1
"""


def current_time() -> datetime:
    """The clock's time now, as the programs the tests run read it (faketime moves both)."""
    return datetime.now(timezone.utc)


def openssl(args: list[str], data: bytes = b"", tmp: Path | None = None) -> bytes:
    """Run the openssl CLI with the legacy provider enabled; raise on failure."""
    env = dict(os.environ)
    if tmp is not None:
        conf = tmp / "openssl-legacy.cnf"
        conf.write_text(_LEGACY_CONF)
        env["OPENSSL_CONF"] = str(conf)
    result = subprocess.run(
        ["openssl", *args], input=data, capture_output=True, env=env, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {result.stderr.decode()}")
    return result.stdout


def pem_key(identity: DemoIdentity) -> bytes:
    """The identity's private key as PKCS#8 PEM."""
    key = serialization.load_der_private_key(identity.key_der, None)
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def pem_cert(certificate: Certificate) -> bytes:
    """The certificate as PEM."""
    return bytes(certificate.to_cryptography().public_bytes(serialization.Encoding.PEM))


def make_ec_identity(common_name: str, issuer: DemoIdentity) -> DemoIdentity:
    """A P-256 key with a certificate from ``issuer``."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_key = serialization.load_der_private_key(issuer.key_der, None)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer.certificate.to_cryptography().subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return DemoIdentity(Certificate.load(cert), key_der)


__all__ = [
    "BACKENDS",
    "NOW",
    "current_time",
    "make_csr",
    "make_ec_identity",
    "make_identity",
    "openssl",
    "pem_cert",
    "pem_key",
]


def make_csr(
    identity: DemoIdentity, common_name: str = "device", challenge: str | None = "s3cret"
) -> bytes:
    """A PKCS#10 request for the identity's key, optionally with a challengePassword."""
    from cryptography.x509.oid import AttributeOID

    key = serialization.load_der_private_key(identity.key_der, None)
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    if challenge is not None:
        builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    request = builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]
    return bytes(request.public_bytes(serialization.Encoding.DER))


def open_cert_rep(
    body: bytes,
    ca: Certificate,
    signer: Decrypter,
    request: RequestReference | None = None,
) -> tuple[str, Certificate | None]:
    """A CertRep as its requester reads it: (pkiStatus name, the certificate a SUCCESS
    carries), checked against ``ca`` (and the ``request`` sent, if given)."""
    from pyscep.cms.degenerate import CertsOnly
    from pyscep.messages import decrypt_pki_message, parse_pki_message, verify_cert_rep

    reply = verify_cert_rep(parse_pki_message(body), ca_certificates=[ca], request=request)
    assert reply.pki_status is not None
    if reply.pki_status.name != "SUCCESS":
        return reply.pki_status.name, None
    content = decrypt_pki_message(reply, signer)
    assert isinstance(content, CertsOnly)
    return "SUCCESS", content.certificates[0]


def ndes_ra(issuer: DemoIdentity, name: str, usage: str, now: datetime) -> KeyPair:
    """An RA certificate as NDES has them, signed by ``issuer``: one keyUsage bit,
    ``usage`` (digital_signature for the signing RA, key_encipherment for the other)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer_key = serialization.load_der_private_key(issuer.key_der, None)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer.certificate.to_cryptography().subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage({usage}), critical=True)
        .sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return KeyPair(
        load_private_key(key),
        Certificate.load(certificate.public_bytes(serialization.Encoding.DER)),
    )


def key_usage(bits: set[str]) -> x509.KeyUsage:
    """A keyUsage extension value with ``bits`` (pyca/cryptography's names) set."""
    flags = dict.fromkeys(
        ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
         "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"),
        False,
    )  # fmt: skip
    flags.update(dict.fromkeys(bits, True))
    return x509.KeyUsage(**flags)


def tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """(the CA file, the certificate file, the key file): a CA, and a certificate for
    127.0.0.1 it signed, made now (TLS stacks read the clock)."""
    now = datetime.now(timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TLS test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = directory / "tls-ca.pem", directory / "tls.pem", directory / "tls.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths
