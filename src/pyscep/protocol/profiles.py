"""How real SCEP peers differ, as named values (../shared/interop-notes.md).

A profile is data, not ``if`` branches: the client and the responder read
its fields. Pick one of the named profiles, or make your own with
``dataclasses.replace(STRICT, ...)``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pyscep.algorithms import ContentCipher, DigestAlgorithm
from pyscep.messages import CACaps

__all__ = [
    "APPLE",
    "CISCO_IOS",
    "DEFAULT_CAPS",
    "DRAFT",
    "MICROMDM",
    "MIKROTIK",
    "NDES",
    "POST_QUANTUM",
    "PROFILES",
    "STRICT",
    "WINDOWS",
    "CACertificatesShape",
    "InteropProfile",
    "Renewal",
]


#: What the responder advertises by default (RFC 8894 section 3.5.2). strongSwan
#: 5.9.8's ``pki --scep`` tests each capability by its enum value instead of its
#: bit: it believes AES only when SHA-384 is advertised and 3DES only when AES
#: is, so SHA-384 stays in the list (tests/test_peers.py runs it).
DEFAULT_CAPS = CACaps.of(
    [
        "AES",
        "DES3",
        "POSTPKIOperation",
        "Renewal",
        "SCEPStandard",
        "SHA-1",
        "SHA-256",
        "SHA-384",
        "SHA-512",
    ]
)


class CACertificatesShape(str, enum.Enum):
    """How a server without RA answers GetCACert."""

    #: The CA certificate as DER (``application/x-x509-ca-cert``), as RFC 8894 says.
    DER_CA = "der-ca"
    #: A certs-only SignedData holding the CA (``application/x-x509-ca-ra-cert``).
    CERTS_ONLY = "certs-only"


class Renewal(str, enum.Enum):
    """How a client renews."""

    #: RenewalReq when the CA advertises Renewal, else PKCSReq signed with the old certificate.
    BY_CAPS = "by-caps"
    #: Always a PKCSReq signed with the existing certificate (draft-era servers).
    PKCS_REQ = "pkcs-req"


@dataclass(frozen=True, slots=True, kw_only=True)
class InteropProfile:
    """One peer family's SCEP dialect.

    Client side: how to send (``use_post`` None = as the caps say), what the
    CA is known to answer with whatever was asked (``reply_cipher``,
    ``reply_digest``: a client whose policy refuses them is told before it
    sends), how strictly to check recipientNonce, how to renew. Server side:
    the capabilities to advertise, the GetCACert shape, and how CertReps are
    spelled (empty or absent eContent, the RSA SignerInfo OID).
    """

    name: str
    use_post: bool | None = None
    reply_cipher: ContentCipher | None = None
    reply_digest: DigestAlgorithm | None = None
    strict_recipient_nonce: bool = True
    renewal: Renewal = Renewal.BY_CAPS
    advertised_caps: CACaps = DEFAULT_CAPS
    #: GetCACert without RA: the CA as DER, or wrapped in a certs-only SignedData.
    ca_certificates: CACertificatesShape = CACertificatesShape.DER_CA
    #: PENDING and FAILURE CertReps with an empty eContent (OpenSSL-based clients such
    #: as sscep cannot verify one whose eContent is absent) or none, as RFC 8894 allows.
    empty_econtent: bool = True
    #: RSA SignerInfos name rsaEncryption (OpenSSL, sscep; strongSwan insists) or
    #: shaXWithRSAEncryption (what some Java stacks expect).
    rsa_digest_in_signature_oid: bool = False
    #: Requester key families whose CertReps the CA can protect: RSA (key transport),
    #: EC (key agreement), Ed25519 (password, RFC 8894 section 3.1). A client with
    #: another key is told before it sends.
    requester_keys: frozenset[str] = frozenset({"rsa", "ec", "ed25519"})
    #: ML-DSA and ML-KEM (opt-in, never negotiated by default): a client takes a CA
    #: whose certificates have such keys, and a responder may hold them, only with it.
    post_quantum: bool = False


_RSA_ONLY = frozenset({"rsa"})

#: RFC 8894 as written.
STRICT = InteropProfile(name="strict")
#: draft-nourse-scep-12 era servers: renewal is a PKCSReq signed by the old certificate.
DRAFT = InteropProfile(
    name="draft",
    renewal=Renewal.PKCS_REQ,
    advertised_caps=CACaps.of(["DES3", "SHA-1", "POSTPKIOperation", "GetNextCACert"]),
    requester_keys=_RSA_ONLY,
)
#: micromdm/scep: replies are single DES and SHA-1 whatever the request used.
MICROMDM = InteropProfile(
    name="micromdm",
    reply_cipher=ContentCipher.DES_CBC,
    reply_digest=DigestAlgorithm.SHA1,
    requester_keys=_RSA_ONLY,
)
#: Microsoft NDES: its "Renewal" means re-enrolment by subject, not RenewalReq;
#: EC requesters get a KeyAgreeRecipientInfo.
NDES = InteropProfile(
    name="ndes",
    renewal=Renewal.PKCS_REQ,
    advertised_caps=CACaps.of(["POSTPKIOperation", "SHA-256", "SHA-512", "DES3", "AES"]),
    requester_keys=frozenset({"rsa", "ec"}),
)
#: Cisco IOS: GET only, SHA-1 on old images, renewal by PKCSReq.
CISCO_IOS = InteropProfile(
    name="cisco-ios",
    use_post=False,
    renewal=Renewal.PKCS_REQ,
    advertised_caps=CACaps.of(["DES3", "SHA-1", "SHA-256", "Renewal"]),
    requester_keys=_RSA_ONLY,
)
#: Apple (iOS, macOS profiles): GET and POST, RFC 8894 algorithms.
APPLE = InteropProfile(name="apple")
#: MikroTik RouterOS: needs senderNonce in CertReps (pyscep always sends one), SHA-1.
MIKROTIK = InteropProfile(
    name="mikrotik",
    advertised_caps=CACaps.of(["DES3", "SHA-1", "SHA-256", "POSTPKIOperation"]),
    requester_keys=_RSA_ONLY,
)

#: Windows' own SCEP client (the MDM ClientCertificateInstall CSP, as Intune drives
#: it): RSA keys only (Intune's SCEP profiles offer no other), a new enrolment by
#: PKCSReq rather than RenewalReq, RFC 8894 algorithms. What it sends is accepted
#: whatever the profile (RSA-OAEP key transport, a self-signed signer whose
#: authorityKeyIdentifier is critical, ``GetCACert`` with ``message=default``, the
#: path ``/certsrv/mscep/mscep.dll``): docs/windows.md.
WINDOWS = InteropProfile(
    name="windows",
    renewal=Renewal.PKCS_REQ,
    advertised_caps=CACaps.of(["AES", "POSTPKIOperation", "SCEPStandard", "SHA-256", "SHA-512"]),
    requester_keys=_RSA_ONLY,
)

#: Post-quantum SCEP, pyscep's opt-in (docs/keys.md): a CA that signs with ML-DSA, an RA
#: whose request-decryption key is ML-KEM (a KEMRecipientInfo, RFC 9629), requesters
#: that sign with ML-DSA (their CertReps keyed by the challengePassword, RFC 8894
#: section 3.1, or by an ML-KEM key they name) as well as the classical ones. GetCACaps
#: has no keyword for it: a client learns it from the CA's certificates (GetCACert).
POST_QUANTUM = InteropProfile(
    name="post-quantum",
    advertised_caps=CACaps.of(["AES", "POSTPKIOperation", "SCEPStandard", "SHA-256", "SHA-512"]),
    requester_keys=frozenset({"rsa", "ec", "ed25519", "ml_dsa_44", "ml_dsa_65", "ml_dsa_87"}),
    post_quantum=True,
)

#: Every named profile, by name.
PROFILES = {
    p.name: p
    for p in (STRICT, DRAFT, MICROMDM, NDES, CISCO_IOS, APPLE, MIKROTIK, WINDOWS, POST_QUANTUM)
}
