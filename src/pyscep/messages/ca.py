"""GetCACert and GetNextCACert payloads (RFC 8894 sections 4.2 and 4.7).

GetCACert answers with a single DER certificate (``application/x-x509-ca-cert``)
or, when an RA is involved, a degenerate certs-only SignedData with the CA and
RA certificates (``application/x-x509-ca-ra-cert``). `CACertificates` picks
which certificate to encrypt requests to and which may sign replies, by
keyUsage (Microsoft NDES has one RA certificate for each), and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import pem

from pyscep._der import prescan
from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import build_certs_only, parse_certs_only
from pyscep.cms.signed import (
    MAX_CERTIFICATES,
    build_signed_data,
    parse_signed_data,
    verify_signed_data,
)
from pyscep.crypto import CryptoBackend, Signer, get_backend
from pyscep.crypto.signed_object import is_issued_by
from pyscep.errors import LimitExceededError, ParseError, VerificationError
from pyscep.http.operations import (
    CONTENT_TYPE_CA_CERT,
    CONTENT_TYPE_CA_RA_CERT,
    CONTENT_TYPE_NEXT_CA_CERT,
)
from pyscep.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "CA_CERT_CONTENT_TYPE",
    "CA_RA_CERT_CONTENT_TYPE",
    "NEXT_CA_CERT_CONTENT_TYPE",
    "CACertificates",
    "build_ca_certificates",
    "build_next_ca_certificates",
    "may_encrypt",
    "may_sign",
    "parse_ca_certificates",
    "parse_next_ca_certificates",
]

# The HTTP mapping owns the spellings; these names stay for the message layer's users.
CA_CERT_CONTENT_TYPE = CONTENT_TYPE_CA_CERT
CA_RA_CERT_CONTENT_TYPE = CONTENT_TYPE_CA_RA_CERT
NEXT_CA_CERT_CONTENT_TYPE = CONTENT_TYPE_NEXT_CA_CERT


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


def may_sign(certificate: Certificate) -> bool:
    """May this certificate sign SCEP replies? RFC 5280 keyUsage, with the CA exception.

    A certificate without keyUsage may do anything. One with keyUsage needs
    digitalSignature, except a CA certificate (keyCertSign): a CA without an
    RA signs its replies with the CA key, and real CAs (micromdm) assert only
    keyCertSign and cRLSign on it.
    """
    usage = certificate.key_usage
    if usage is None or "digital_signature" in usage:
        return True
    return "key_cert_sign" in usage and certificate.is_ca


_ENCRYPTION_USAGE = {
    "rsa": "key_encipherment",
    "ec": "key_agreement",
    # RFC 9935 section 5: keyEncipherment is the one usage of an ML-KEM key.
    "ml_kem_768": "key_encipherment",
    "ml_kem_1024": "key_encipherment",
}


def may_encrypt(certificate: Certificate) -> bool:
    """May requests be enveloped to this RA certificate? RSA with keyEncipherment (key
    transport), EC with keyAgreement (ECDH), ML-KEM with keyEncipherment (a
    KEMRecipientInfo), or any of them without keyUsage."""
    usage = certificate.key_usage
    wanted = _ENCRYPTION_USAGE.get(certificate.public_key_algorithm)
    if certificate.public_key.parameter_set is not None and usage is not None:
        return usage == {wanted}  # RFC 9935 section 5: the only usage of an ML-KEM key
    return wanted is not None and (usage is None or wanted in usage)


def _chains_to(
    certificate: Certificate,
    anchor: Certificate,
    cas: Sequence[Certificate],
    issued: Callable[[Certificate, Certificate], bool],
) -> bool:
    """True when ``certificate`` is ``anchor`` or a chain of signatures through ``cas`` leads
    to it."""
    current, visited = certificate, {certificate}
    while current != anchor:
        parent = next((c for c in cas if c not in visited and issued(current, c)), None)
        if parent is None:
            return False
        current = parent
        visited.add(parent)
    return True


def _valid_at(certificate: Certificate, now: datetime) -> bool:
    return certificate.not_valid_before <= now <= certificate.not_valid_after


def _select(
    certificates: Sequence[Certificate],
    *,
    now: datetime,
    ca_fingerprint: bytes | None,
    algorithms: AlgorithmPolicy,
    backend: CryptoBackend,
) -> CACertificates:
    if not certificates:
        raise ParseError("GetCACert response holds no certificate")
    if len(certificates) > MAX_CERTIFICATES:
        raise LimitExceededError(f"more than {MAX_CERTIFICATES} certificates in GetCACert")
    reasons: list[str] = []
    pinned = None
    if ca_fingerprint is not None:
        pinned = next((c for c in certificates if c.sha256_fingerprint == ca_fingerprint), None)
        if pinned is None:
            raise VerificationError("no certificate of the response has the pinned fingerprint")
        reasons.append(f"CA {pinned.subject!r}: matches the pinned SHA-256 fingerprint")
    if len(certificates) == 1:
        only = certificates[0]
        reasons.append(f"single certificate {only.subject!r}: CA, encryption and signature")
        return CACertificates((only,), only, only, (only,), tuple(reasons))
    cas = [c for c in certificates if c.is_ca]
    ras = [c for c in certificates if not c.is_ca]

    def issued(ra: Certificate, ca: Certificate) -> bool:
        return is_issued_by(ra, ca, backend=backend, algorithms=algorithms)

    if not ras:
        if not cas:
            raise ParseError("GetCACert response holds no CA certificate")
        # An intermediate CA comes with its chain: the CA is the one whose key signed no
        # other certificate of the response, even when the client pinned the root.
        lowest = [c for c in cas if not any(o != c and issued(o, c) for o in cas)] or cas
        bottom = lowest[0]
        if pinned is not None:
            # Only a CA the pin anchors by signatures, valid now, and only one of them:
            # the order of the response is the sender's to choose.
            anchored = [
                c
                for c in lowest
                if c == pinned or (_valid_at(c, now) and _chains_to(c, pinned, cas, issued))
            ]
            if not anchored:
                raise VerificationError(
                    f"the CA {bottom.subject!r} does not chain to the pinned CA"
                )
            if len(anchored) > 1:
                raise VerificationError(
                    "more than one CA of the response chains to the pinned CA: pin the"
                    " issuing CA's fingerprint"
                )
            bottom = anchored[0]
        if bottom != pinned:
            reasons.append(f"CA {bottom.subject!r}: a CA that signed no other certificate here")
        reasons.append("no RA certificate: the CA encrypts and signs")
        return CACertificates(tuple(certificates), bottom, bottom, (bottom,), tuple(reasons))
    # The issuing CA is the one whose key signed the RA certificates (a name
    # proves nothing: a man in the middle can write any issuer name).
    ca = next((c for c in cas if issued(ras[0], c)), None)
    if ca is None:
        raise VerificationError(
            f"RA certificate {ras[0].subject!r} is not signed by a CA of the response"
        )
    if pinned is not None and not _chains_to(ca, pinned, cas, issued):
        raise VerificationError(f"the RA's CA {ca.subject!r} does not chain to the pinned CA")
    reasons.append(f"CA {ca.subject!r}: its key signed the RA certificates")
    for ra in ras:
        if not issued(ra, ca):
            raise VerificationError(f"RA certificate {ra.subject!r} is not signed by the CA")
        if not _valid_at(ra, now):
            raise VerificationError(f"RA certificate {ra.subject!r} is not valid now")
    # keyEncipherment asserted is preferred over no keyUsage at all (NDES).
    encryption = next(
        (r for r in ras if may_encrypt(r) and r.key_usage is not None),
        next((r for r in ras if may_encrypt(r)), None),
    )
    if encryption is None:
        raise VerificationError("no RA certificate may encipher keys (keyUsage)")
    reasons.append(
        f"encryption RA {encryption.subject!r}: RSA with keyEncipherment or EC with "
        "keyAgreement (or no keyUsage)"
    )
    signers = [r for r in ras if may_sign(r)]
    for signer in signers:
        reasons.append(f"signature RA {signer.subject!r}: keyUsage digitalSignature or none")
    return CACertificates(tuple(certificates), ca, encryption, (*signers, ca), tuple(reasons))


def parse_ca_certificates(
    body: bytes,
    *,
    now: datetime,
    ca_fingerprint: bytes | None = None,
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> CACertificates:
    """Read a GetCACert body: one DER/PEM certificate or a degenerate SignedData.

    RA certificates are trusted by signature only: each must be signed by
    the CA's key (under ``algorithms``) and valid at ``now``, or the
    response is refused (VerificationError). With ``ca_fingerprint`` (the
    SHA-256 of the CA certificate's DER, obtained out of band) that
    certificate is the CA, and a response without it is refused.
    """
    crypto = get_backend(backend)
    if pem.detect(body):
        certificates = Certificate.load_all(body, limits=limits, max_count=MAX_CERTIFICATES)
    else:
        prescan(body, limits)
        try:
            certificates = [Certificate.from_scanned_der(body)]
        except ParseError:
            certificates = list(parse_certs_only(body).certificates)
    return _select(
        certificates,
        now=now,
        ca_fingerprint=ca_fingerprint,
        algorithms=algorithms,
        backend=crypto,
    )


def build_ca_certificates(
    ca: Certificate,
    ra_certificates: Sequence[Certificate] = (),
    *,
    chain: Sequence[Certificate] = (),
) -> tuple[bytes, str]:
    """GetCACert body and Content-Type: the CA alone, or a certs-only SignedData with RAs
    and the ``chain`` above an intermediate CA (a SET OF, which DER orders: a client
    tells the CA by signatures, as `parse_ca_certificates` does, never by position)."""
    if not ra_certificates and not chain:
        return ca.der, CA_CERT_CONTENT_TYPE
    return build_certs_only([ca, *ra_certificates, *chain]), CA_RA_CERT_CONTENT_TYPE


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
        if not may_sign(signer):
            raise VerificationError("the GetNextCACert signer may not sign (keyUsage)")

    prescan(body)
    verified = verify_signed_data(
        parse_signed_data(body),
        backend=get_backend(backend),
        algorithms=algorithms,
        certificates=trusted,
        signer_filter=only_current,
    )
    return parse_certs_only(verified.content).certificates
