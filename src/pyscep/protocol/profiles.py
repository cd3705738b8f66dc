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
from pyscep.protocol.server import DEFAULT_CAPS

__all__ = [
    "APPLE",
    "CISCO_IOS",
    "DRAFT",
    "MICROMDM",
    "MIKROTIK",
    "NDES",
    "PROFILES",
    "STRICT",
    "InteropProfile",
    "Renewal",
]


class Renewal(str, enum.Enum):
    """How a client renews."""

    #: RenewalReq when the CA advertises Renewal, else PKCSReq signed with the old certificate.
    BY_CAPS = "by-caps"
    #: Always a PKCSReq signed with the existing certificate (draft-era servers).
    PKCS_REQ = "pkcs-req"


@dataclass(frozen=True)
class InteropProfile:
    """One peer family's SCEP dialect.

    Client side: how to send (``use_post`` None = as the caps say), what the
    CA is known to answer with whatever was asked (``reply_cipher``,
    ``reply_digest``: a client whose policy refuses them is told before it
    sends), how strictly to check recipientNonce, how to renew. Server side:
    the capabilities to advertise.
    """

    name: str
    use_post: bool | None = None
    reply_cipher: ContentCipher | None = None
    reply_digest: DigestAlgorithm | None = None
    strict_recipient_nonce: bool = True
    renewal: Renewal = Renewal.BY_CAPS
    advertised_caps: CACaps = DEFAULT_CAPS


#: RFC 8894 as written.
STRICT = InteropProfile("strict")
#: draft-nourse-scep-12 era servers: renewal is a PKCSReq signed by the old certificate.
DRAFT = InteropProfile(
    "draft",
    renewal=Renewal.PKCS_REQ,
    advertised_caps=CACaps.of(["DES3", "SHA-1", "POSTPKIOperation", "GetNextCACert"]),
)
#: micromdm/scep: replies are single DES and SHA-1 whatever the request used.
MICROMDM = InteropProfile(
    "micromdm", reply_cipher=ContentCipher.DES_CBC, reply_digest=DigestAlgorithm.SHA1
)
#: Microsoft NDES: its "Renewal" means re-enrolment by subject, not RenewalReq.
NDES = InteropProfile(
    "ndes",
    renewal=Renewal.PKCS_REQ,
    advertised_caps=CACaps.of(["POSTPKIOperation", "SHA-256", "SHA-512", "DES3", "AES"]),
)
#: Cisco IOS: GET only, SHA-1 on old images, renewal by PKCSReq.
CISCO_IOS = InteropProfile(
    "cisco-ios",
    use_post=False,
    renewal=Renewal.PKCS_REQ,
    advertised_caps=CACaps.of(["DES3", "SHA-1", "SHA-256", "Renewal"]),
)
#: Apple (iOS, macOS profiles): GET and POST, RFC 8894 algorithms.
APPLE = InteropProfile("apple")
#: MikroTik RouterOS: needs senderNonce in CertReps (pyscep always sends one), SHA-1.
MIKROTIK = InteropProfile(
    "mikrotik", advertised_caps=CACaps.of(["DES3", "SHA-1", "SHA-256", "POSTPKIOperation"])
)

#: Every named profile, by name.
PROFILES = {p.name: p for p in (STRICT, DRAFT, MICROMDM, NDES, CISCO_IOS, APPLE, MIKROTIK)}
