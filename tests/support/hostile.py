"""Builders for hostile inputs (issue 9): certificates, CSRs and requests with the
defect a test wants and nothing else wrong.

Everything is assembled with asn1crypto or cryptography directly, never with
pyscep's builders (which refuse most of these on purpose).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import algos, core, csr, keys, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from pyscep import Certificate, DigestAlgorithm, SignatureScheme
from pyscep._der import der_length
from pyscep.crypto._pyca import PycaKey
from pyscep.testing import DemoIdentity

__all__ = [
    "RawSigner",
    "hostile_certificate",
    "name",
    "pss",
    "ra_certificate",
    "rsa_key",
    "spki_der",
    "tlv",
    "unsigned_csr",
]


def tlv(tag: int, *children: bytes) -> bytes:
    body = b"".join(children)
    return bytes([tag]) + der_length(len(body)) + body


def pss(salt: int, hash_name: str = "sha256", mgf_hash: str | None = None) -> dict[str, Any]:
    """An RSASSA-PSS AlgorithmIdentifier with any salt length (negative too)."""
    return {
        "algorithm": "rsassa_pss",
        "parameters": {
            "hash_algorithm": {"algorithm": hash_name},
            "mask_gen_algorithm": {
                "algorithm": "mgf1",
                "parameters": {"algorithm": mgf_hash or hash_name},
            },
            "salt_length": salt,
        },
    }


_KEYS: dict[int, Any] = {}


def rsa_key(bits: int = 2048) -> Any:
    """One RSA key per size for the whole run (generating them is the slow part)."""
    if bits not in _KEYS:
        _KEYS[bits] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _KEYS[bits]


def spki_der(key: Any, algorithm: str = "rsa") -> bytes:
    """The key's SubjectPublicKeyInfo, optionally re-spelled (``rsassa_pss``)."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if algorithm == "rsa":
        return bytes(der)
    info = keys.PublicKeyInfo.load(der)
    return bytes(
        keys.PublicKeyInfo(
            {"algorithm": {"algorithm": algorithm}, "public_key": info["public_key"].parsed}
        ).dump()
    )


def _sign(key: Any, data: bytes, algorithm: dict[str, Any]) -> bytes:
    """A real signature where the algorithm allows one, filler bytes where it cannot exist."""
    name = algorithm["algorithm"]
    if name == "rsassa_pss":
        salt = algorithm["parameters"]["salt_length"]
        if 0 <= salt <= 64:
            return bytes(
                key.sign(
                    data,
                    padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt),
                    hashes.SHA256(),
                )
            )
        return b"\x01" * (int(key.key_size) // 8)
    hash_name = algos.SignedDigestAlgorithm(algorithm).hash_algo
    return bytes(key.sign(data, padding.PKCS1v15(), getattr(hashes, hash_name.upper())()))


def hostile_certificate(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    spki: bytes,
    signing_key: Any,
    now: datetime,
    algorithm: dict[str, Any] | None = None,
    extensions: Sequence[dict[str, Any]] = (),
    days: tuple[int, int] = (-1, 30),
) -> Certificate:
    """A certificate with whatever key, signature algorithm and extensions the test wants."""
    algorithm = algorithm or {"algorithm": "sha256_rsa"}
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": int.from_bytes(hashlib.sha256(spki).digest()[:8], "big"),
            "signature": algorithm,
            "issuer": issuer,
            "validity": {
                "not_before": x509.Time(name="utc_time", value=now + timedelta(days=days[0])),
                "not_after": x509.Time(name="utc_time", value=now + timedelta(days=days[1])),
            },
            "subject": subject,
            "subject_public_key_info": keys.PublicKeyInfo.load(spki),
            "extensions": list(extensions) or None,
        }
    )
    signature = _sign(signing_key, bytes(tbs.dump()), algorithm)
    certificate = x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": algorithm, "signature_value": signature}
    )
    return Certificate.load(bytes(certificate.dump()))


def name(common_name: str) -> x509.Name:
    return x509.Name.build({"common_name": common_name})


def unsigned_csr(
    *,
    spki: bytes,
    extensions: Sequence[tuple[str, bytes]] = (),
    algorithm: dict[str, Any] | None = None,
    key: Any = None,
    subject: str = "hostile",
) -> bytes:
    """A PKCS#10 request carrying raw extension values; signed when ``key`` is given."""
    requested = b"".join(
        tlv(0x30, core.ObjectIdentifier(oid).dump(), core.OctetString(value).dump())
        for oid, value in extensions
    )
    attributes: list[Any] = []
    if extensions:
        attributes.append(
            {
                "type": "extension_request",
                "values": csr.SetOfExtensions.load(tlv(0x31, tlv(0x30, requested))),
            }
        )
    info = csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": name(subject),
            "subject_pk_info": keys.PublicKeyInfo.load(spki),
            "attributes": attributes,
        }
    )
    algorithm = algorithm or {"algorithm": "sha256_rsa"}
    tbs = bytes(info.dump())
    signature = _sign(key, tbs, algorithm) if key is not None else b"\x00" * 256
    request = csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": algorithm,
            "signature": signature,
        }
    )
    return bytes(request.dump())


@dataclass(frozen=True)
class RawSigner:
    """A Signer over any certificate, even one whose key spelling pyscep would not pair."""

    certificate: Certificate
    key: Any

    def sign(self, data: bytes, digest: DigestAlgorithm, scheme: SignatureScheme) -> bytes:
        return PycaKey(self.key).sign(data, digest, scheme)


def ra_certificate(
    common_name: str,
    issuer: DemoIdentity,
    *,
    now: datetime,
    usage: dict[str, bool],
    signing_key: Any = None,
    days: tuple[int, int] = (-1, 30),
    issuer_name: cx509.Name | None = None,
    digest: Any = None,
) -> DemoIdentity:
    """An RA certificate with the given keyUsage bits, issued (by default) by ``issuer``.

    ``signing_key`` signs instead of the issuer's key (a forgery that keeps
    the issuer's name); ``issuer_name`` overrides the name written.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    flags = {
        "digital_signature": False,
        "content_commitment": False,
        "key_encipherment": False,
        "data_encipherment": False,
        "key_agreement": False,
        "key_cert_sign": False,
        "crl_sign": False,
        "encipher_only": False,
        "decipher_only": False,
        **usage,
    }
    issuer_key: Any = signing_key or serialization.load_der_private_key(issuer.key_der, None)
    certificate = (
        cx509.CertificateBuilder()
        .subject_name(cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer_name or issuer.certificate.to_cryptography().subject)
        .public_key(key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now + timedelta(days=days[0]))
        .not_valid_after(now + timedelta(days=days[1]))
        .add_extension(cx509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(cx509.KeyUsage(**flags), critical=True)
        .sign(issuer_key, digest or hashes.SHA256())
    )
    key_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return DemoIdentity(Certificate.load(certificate), key_der)
