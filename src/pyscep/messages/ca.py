"""GetCACert and GetNextCACert payloads (RFC 8894 sections 4.2 and 4.7).

GetCACert answers with a single DER certificate (``application/x-x509-ca-cert``)
or, when an RA is involved, a degenerate certs-only SignedData with the CA and
RA certificates (``application/x-x509-ca-ra-cert``). `CACertificates` picks
which certificate to encrypt requests to and which may sign replies, by
keyUsage (Microsoft NDES has one RA certificate for each), and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import pem

from pyscep._der import prescan
from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import build_certs_only, parse_certs_only
from pyscep.cms.signed import build_signed_data, parse_signed_data, verify_signed_data
from pyscep.crypto import CryptoBackend, Signer, get_backend
from pyscep.errors import ParseError, VerificationError

__all__ = [
    "CA_CERT_CONTENT_TYPE",
    "CA_RA_CERT_CONTENT_TYPE",
    "NEXT_CA_CERT_CONTENT_TYPE",
    "CACertificates",
    "build_ca_certificates",
    "build_next_ca_certificates",
    "parse_ca_certificates",
    "parse_next_ca_certificates",
]

CA_CERT_CONTENT_TYPE = "application/x-x509-ca-cert"
CA_RA_CERT_CONTENT_TYPE = "application/x-x509-ca-ra-cert"
NEXT_CA_CERT_CONTENT_TYPE = "application/x-x509-next-ca-cert"


@dataclass(frozen=True)
class CACertificates:
    """The certificates of a GetCACert response, with the roles chosen for each."""

    certificates: tuple[Certificate, ...]
    #: The CA certificate (self-issued or a CA by basicConstraints).
    ca: Certificate
    #: Where requests are enveloped to: an RA certificate allowed to encipher keys, or the CA.
    encryption: Certificate
    #: Who may sign CertReps: RA certificates allowed to sign, and the CA.
    verification: tuple[Certificate, ...]
    #: Why each choice was made, for people reading logs.
    reasons: tuple[str, ...]


def _select(certificates: Sequence[Certificate]) -> CACertificates:
    if not certificates:
        raise ParseError("GetCACert response holds no certificate")
    reasons: list[str] = []
    if len(certificates) == 1:
        only = certificates[0]
        reasons.append(f"single certificate {only.subject!r}: CA, encryption and signature")
        return CACertificates((only,), only, only, (only,), tuple(reasons))
    cas = [c for c in certificates if c.is_ca]
    ras = [c for c in certificates if not c.is_ca]
    # The issuing CA is the CA certificate that issued the RA certificates
    # (or the first CA certificate when there is no RA).
    ca = next(
        (c for c in cas if any(ra.issuer == c.subject for ra in ras)), cas[0] if cas else None
    )
    if ca is None:
        raise ParseError("GetCACert response holds no CA certificate")
    reasons.append(f"CA {ca.subject!r}: CA by basicConstraints or self-issued")
    if not ras:
        reasons.append("no RA certificate: the CA encrypts and signs")
        return CACertificates(tuple(certificates), ca, ca, (ca,), tuple(reasons))

    def usage(cert: Certificate) -> frozenset[str]:
        return cert.key_usage if cert.key_usage is not None else frozenset()

    encryption = next((r for r in ras if "key_encipherment" in usage(r)), None)
    if encryption is not None:
        reasons.append(f"encryption RA {encryption.subject!r}: keyUsage keyEncipherment")
    else:
        encryption = next((r for r in ras if r.key_usage is None), ras[0])
        reasons.append(f"encryption RA {encryption.subject!r}: no RA with keyEncipherment")
    signers = [r for r in ras if r.key_usage is None or "digital_signature" in usage(r)]
    for signer in signers:
        reasons.append(f"signature RA {signer.subject!r}: keyUsage digitalSignature or none")
    return CACertificates(tuple(certificates), ca, encryption, (*signers, ca), tuple(reasons))


def parse_ca_certificates(body: bytes) -> CACertificates:
    """Read a GetCACert body: one DER/PEM certificate or a degenerate SignedData."""
    if pem.detect(body):
        return _select(Certificate.load_all(body))
    prescan(body)
    try:
        certificate = Certificate.load(body)
    except ParseError:
        return _select(parse_certs_only(body).certificates)
    return _select([certificate])


def build_ca_certificates(
    ca: Certificate, ra_certificates: Sequence[Certificate] = ()
) -> tuple[bytes, str]:
    """GetCACert body and Content-Type: the CA alone, or a certs-only SignedData with RAs."""
    if not ra_certificates:
        return ca.der, CA_CERT_CONTENT_TYPE
    return build_certs_only([ca, *ra_certificates]), CA_RA_CERT_CONTENT_TYPE


def build_next_ca_certificates(
    certificates: Sequence[Certificate],
    *,
    signer: Signer,
    digest: DigestAlgorithm = DigestAlgorithm.SHA256,
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
) -> bytes:
    """GetNextCACert body: the next CA (and RA) certificates, signed by the current CA."""
    inner = build_certs_only(list(certificates))
    return build_signed_data(
        inner, signer, digest=digest, backend=get_backend(backend), algorithms=algorithms
    )


def parse_next_ca_certificates(
    body: bytes,
    current: CACertificates | Sequence[Certificate],
    *,
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
) -> tuple[Certificate, ...]:
    """Verify a GetNextCACert body against the current CA (or its RA) and return the new chain."""
    trusted = current.verification if isinstance(current, CACertificates) else tuple(current)

    def only_current(signer: Certificate) -> None:
        if signer not in trusted:
            raise VerificationError("GetNextCACert is not signed by the current CA")

    prescan(body)
    verified = verify_signed_data(
        parse_signed_data(body),
        backend=get_backend(backend),
        algorithms=algorithms,
        certificates=trusted,
        signer_filter=only_current,
    )
    return parse_certs_only(verified.content).certificates
