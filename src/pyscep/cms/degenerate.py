"""Degenerate certs-only SignedData (RFC 8894 section 3.4): certificates and CRLs, no signers.

GetCACert with an RA, GetNextCACert's inner content, and the content of a
CertRep SUCCESS all use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import crl

from pyscep import _der_writer as w
from pyscep._boundary import field
from pyscep.certificate import Certificate
from pyscep.errors import ParseError
from pyscep.findings import Finding
from pyscep.limits import DEFAULT_LIMITS, Limits

from .signed.parse import parse_signed_data

__all__ = ["CertsOnly", "build_certs_only", "parse_certs_only"]


@dataclass(frozen=True)
class CertsOnly:
    """The payload of a degenerate SignedData."""

    certificates: tuple[Certificate, ...]
    #: DER CertificateLists.
    crls: tuple[bytes, ...] = ()
    findings: tuple[Finding, ...] = ()

    def for_key(self, public_key_der: bytes) -> Certificate | None:
        """The first certificate for the SubjectPublicKeyInfo ``public_key_der``, wherever
        it is (the certificates are a SET, which DER sorts), or None."""
        for certificate in self.certificates:
            if certificate.public_key_der == public_key_der:
                return certificate
        return None


def build_certs_only(certificates: Sequence[Certificate], crls: Sequence[bytes] = ()) -> bytes:
    """DER ContentInfo(SignedData) with the given certificates and CRLs and no signer."""
    if crls:
        with field("CRL"):
            for der in crls:
                crl.CertificateList.load(der, strict=True)  # one element, nothing after it
    parts = [w.integer(1), w.set_of([]), w.sequence(w.oid(_DATA))]
    if certificates:
        # [0] and [1] IMPLICIT SET OF: in DER order, as every SET.
        parts.append(w.context(0, b"".join(sorted(c.der for c in certificates))))
    if crls:
        parts.append(w.context(1, b"".join(sorted(bytes(c) for c in crls))))
    parts.append(w.set_of([]))
    return w.sequence(w.oid(_SIGNED_DATA), w.context(0, w.sequence(*parts)))


_DATA = "1.2.840.113549.1.7.1"
_SIGNED_DATA = "1.2.840.113549.1.7.2"


def parse_certs_only(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> CertsOnly:
    """Read a degenerate SignedData; ParseError if it has signers or content.

    ``limits`` bound the input (a CertRep for GetCRL may carry a large CRL).
    """
    parsed = parse_signed_data(data, limits=limits)
    if parsed.signer_infos:
        raise ParseError("a certs-only SignedData has no SignerInfo", path=("SignedData",))
    if parsed.content:
        raise ParseError("a certs-only SignedData has no content", path=("SignedData",))
    return CertsOnly(parsed.certificates, parsed.crls, parsed.findings)
