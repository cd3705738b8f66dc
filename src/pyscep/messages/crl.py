"""Certificate revocation lists (RFC 5280 section 5): built with a CA's `Signer`, read back.

`build_crl` makes a version 2 CRL with a CRL number and the CA's key
identifier, each entry with its revocation date and reason (none for
unspecified, as RFC 5280 section 5.3.1 recommends). The CA key is used
through the crypto seam, so it may live in an HSM. Time is a parameter.
`crl_to_pem` armors one for openssl and web servers. `read_crl` gives the
facts of a CRL as a value (to check what a server published); it does not
check the signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, crl, pem, x509

from pyscep._boundary import field
from pyscep._spki import PublicKeyInfo
from pyscep.algorithms import DigestAlgorithm
from pyscep.crypto import Signer
from pyscep.enums import RevocationReason
from pyscep.errors import LocalProtocolError, ParseError
from pyscep.messages.identity import _algorithm, _key_identifier, _sign, _utc

__all__ = [
    "CRLFacts",
    "RevokedCertificate",
    "build_crl",
    "crl_to_pem",
    "key_identifier",
    "read_crl",
]


@dataclass(frozen=True, slots=True)
class RevokedCertificate:
    """One entry of a CRL: the serial number, when, and why."""

    serial_number: int
    revoked_at: datetime
    reason: RevocationReason = RevocationReason.UNSPECIFIED


@dataclass(frozen=True, slots=True)
class CRLFacts:
    """What a CRL says (its signature not checked): `read_crl`."""

    issuer_der: bytes
    number: int | None
    this_update: datetime
    next_update: datetime | None
    revoked: tuple[RevokedCertificate, ...]
    #: The authorityKeyIdentifier's keyIdentifier: which key of the issuer signed it.
    authority_key_id: bytes | None = None


def key_identifier(public_key_der: bytes) -> bytes:
    """The key identifier `build_crl` and `issue_certificate` write for a key (RFC 5280
    section 4.2.1.2, method 1): what a CRL's authorityKeyIdentifier names its signer by."""
    with field("subjectPublicKeyInfo"):
        return _key_identifier(PublicKeyInfo.load(bytes(public_key_der), strict=True))


def build_crl(
    ca: Signer,
    revoked: Sequence[RevokedCertificate],
    *,
    number: int,
    this_update: datetime,
    next_update: datetime,
    digest: DigestAlgorithm = DigestAlgorithm.SHA256,
) -> bytes:
    """A DER CRL of ``ca`` listing ``revoked``, numbered ``number`` (positive, increasing)."""
    if number < 1:
        raise LocalProtocolError("a CRL number is positive")
    if any(entry.reason is RevocationReason.REMOVE_FROM_CRL for entry in revoked):
        raise LocalProtocolError("removeFromCRL belongs in delta CRLs only (RFC 5280 5.3.1)")
    if next_update <= this_update:
        raise LocalProtocolError("a CRL's nextUpdate comes after its thisUpdate")
    try:
        issuer_spki = PublicKeyInfo.load(ca.certificate.public_key_der, strict=True)
        issuer_name = x509.Name.load(ca.certificate.subject_der, strict=True)
    except ValueError as exc:  # pragma: no cover - a Certificate is already parsed
        raise ParseError("the CA certificate cannot be read") from exc
    entries = []
    for entry in sorted(revoked, key=lambda e: e.serial_number):
        extensions = []
        if entry.reason is not RevocationReason.UNSPECIFIED:
            extensions.append({"extn_id": "crl_reason", "extn_value": entry.reason.name.lower()})
        entries.append(
            {
                "user_certificate": entry.serial_number,
                "revocation_date": _utc(entry.revoked_at),
                "crl_entry_extensions": extensions or None,
            }
        )
    signature_algorithm = algos.SignedDigestAlgorithm.load(_algorithm(issuer_spki, digest))
    tbs = crl.TbsCertList(
        {
            "version": "v2",
            "signature": signature_algorithm,
            "issuer": issuer_name,
            "this_update": _utc(this_update),
            "next_update": _utc(next_update),
            "revoked_certificates": entries or None,
            "crl_extensions": [
                {"extn_id": "crl_number", "extn_value": number},
                {
                    "extn_id": "authority_key_identifier",
                    "extn_value": {"key_identifier": _key_identifier(issuer_spki)},
                },
            ],
        }
    )
    _, signature = _sign(ca, issuer_spki, bytes(tbs.dump()), digest)
    certificate_list = crl.CertificateList(
        {
            "tbs_cert_list": tbs,
            "signature_algorithm": signature_algorithm,
            "signature": signature,
        }
    )
    return bytes(certificate_list.dump())


def read_crl(der: bytes) -> CRLFacts:
    """The facts of a DER CRL; ParseError if it is not one."""
    with field("CertificateList"):
        parsed = crl.CertificateList.load(bytes(der), strict=True)
        tbs = parsed["tbs_cert_list"]
        entries = tuple(
            RevokedCertificate(
                int(entry["user_certificate"].native),
                entry["revocation_date"].native,
                RevocationReason.UNSPECIFIED
                if entry.crl_reason_value is None
                else RevocationReason[entry.crl_reason_value.native.upper()],
            )
            for entry in tbs["revoked_certificates"]
        )
        number = parsed.crl_number_value
        next_update = tbs["next_update"].native
        authority = parsed.authority_key_identifier
        return CRLFacts(
            issuer_der=bytes(tbs["issuer"].dump()),
            number=None if number is None else int(number.native),
            this_update=tbs["this_update"].native,
            next_update=next_update,
            revoked=entries,
            authority_key_id=None if authority is None else bytes(authority),
        )


def crl_to_pem(der: bytes) -> str:
    """A DER CRL armored as PEM (``-----BEGIN X509 CRL-----``), as openssl reads it."""
    return bytes(pem.armor("X509 CRL", bytes(der))).decode("ascii")
