"""Wire constants of SCEP (RFC 8894 section 3.2.1 and 3.5.2), as enums.

The numeric values are what travels on the wire as PrintableString digits;
`MessageType.PKCS_REQ.wire` is ``"19"``.
"""

from __future__ import annotations

import enum

__all__ = ["CACapability", "FailInfo", "MessageType", "PKIStatus", "RevocationReason"]


class _WireInt(enum.IntEnum):
    def __bool__(self) -> bool:
        # SUCCESS and badAlg are 0 on the wire, yet a present value is never
        # "false": `if message.pki_status:` must not skip SUCCESS.
        return True

    @property
    def wire(self) -> str:
        """The PrintableString form sent on the wire (decimal digits)."""
        return str(int(self))

    @classmethod
    def from_wire(cls, text: str) -> _WireInt:
        """Look up the member for exact wire digits; raise ValueError otherwise.

        Only the canonical spelling is accepted: ``"019"`` or ``" 19"`` is not
        ``19`` (a parser differential that has led to authorization bypasses).
        """
        if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
            raise ValueError(f"not a canonical {cls.__name__} value")
        return cls(int(text))


class MessageType(_WireInt):
    """SCEP messageType (RFC 8894 section 3.2.1.2; 18 from earlier drafts)."""

    CERT_REP = 3
    RENEWAL_REQ = 17
    #: UpdateReq: defined by intermediate drafts, unassigned in RFC 8894.
    UPDATE_REQ = 18
    PKCS_REQ = 19
    #: CertPoll in RFC 8894, GetCertInitial in draft-nourse-scep.
    CERT_POLL = 20
    GET_CERT = 21
    GET_CRL = 22

    #: Alias: the draft-nourse-scep name of CertPoll.
    GET_CERT_INITIAL = 20

    @property
    def rfc_name(self) -> str:
        """The message name as RFC 8894 spells it (``PKCSReq``, ``CertPoll``...)."""
        return _MESSAGE_NAMES[self]

    @property
    def display_name(self) -> str:
        """The name for people: the RFC's, plus the draft's where they differ."""
        if self is MessageType.CERT_POLL:
            return "CertPoll/GetCertInitial"
        return self.rfc_name

    @property
    def is_request(self) -> bool:
        """True for what a client sends (everything but CertRep)."""
        return self is not MessageType.CERT_REP

    @property
    def carries_csr(self) -> bool:
        """True for PKCSReq, RenewalReq and UpdateReq (a PKCS#10 request inside)."""
        return self in (MessageType.PKCS_REQ, MessageType.RENEWAL_REQ, MessageType.UPDATE_REQ)


_MESSAGE_NAMES = {
    MessageType.CERT_REP: "CertRep",
    MessageType.RENEWAL_REQ: "RenewalReq",
    MessageType.UPDATE_REQ: "UpdateReq",
    MessageType.PKCS_REQ: "PKCSReq",
    MessageType.CERT_POLL: "CertPoll",
    MessageType.GET_CERT: "GetCert",
    MessageType.GET_CRL: "GetCRL",
}


class PKIStatus(_WireInt):
    """SCEP pkiStatus (RFC 8894 section 3.2.1.3)."""

    SUCCESS = 0
    FAILURE = 2
    PENDING = 3


class FailInfo(_WireInt):
    """SCEP failInfo (RFC 8894 section 3.2.1.4)."""

    #: Unrecognized or unsupported algorithm.
    BAD_ALG = 0
    #: Integrity check (signature verification of the message) failed.
    BAD_MESSAGE_CHECK = 1
    #: Transaction not permitted or supported.
    BAD_REQUEST = 2
    #: The signingTime attribute was not close enough to the system time.
    BAD_TIME = 3
    #: No certificate could be identified matching the provided criteria.
    BAD_CERT_ID = 4

    @property
    def rfc_name(self) -> str:
        """The camelCase name used by RFC 8894 (``badMessageCheck``)."""
        head, *rest = self.name.lower().split("_")
        return head + "".join(part.capitalize() for part in rest)


class RevocationReason(enum.IntEnum):
    """Why a certificate was revoked: the CRLReason of RFC 5280 section 5.3.1 (7 is unused)."""

    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    CA_COMPROMISE = 2
    AFFILIATION_CHANGED = 3
    SUPERSEDED = 4
    CESSATION_OF_OPERATION = 5
    CERTIFICATE_HOLD = 6
    REMOVE_FROM_CRL = 8
    PRIVILEGE_WITHDRAWN = 9
    AA_COMPROMISE = 10

    @property
    def rfc_name(self) -> str:
        """The name RFC 5280 gives it (``keyCompromise``, ``cACompromise``, ``removeFromCRL``)."""
        special = {"CA_COMPROMISE": "cACompromise", "AA_COMPROMISE": "aACompromise"}
        if self.name in special:
            return special[self.name]
        head, *rest = self.name.lower().split("_")
        return head + "".join(part.upper() if part == "crl" else part.capitalize() for part in rest)

    @classmethod
    def from_rfc_name(cls, text: str) -> RevocationReason:
        """The reason named ``text`` (RFC 5280's name, any case); ValueError otherwise."""
        for reason in cls:
            if reason.rfc_name.lower() == text.lower():
                return reason
        names = ", ".join(reason.rfc_name for reason in cls)
        raise ValueError(f"{text!r} is not a revocation reason: one of {names}")


class CACapability(str, enum.Enum):
    """GetCACaps keywords (RFC 8894 section 3.5.2), in the case the RFC gives.

    A CA must send them in this case; clients compare case-insensitively.
    """

    AES = "AES"
    DES3 = "DES3"
    GET_NEXT_CA_CERT = "GetNextCACert"
    POST_PKI_OPERATION = "POSTPKIOperation"
    RENEWAL = "Renewal"
    SHA_1 = "SHA-1"
    SHA_224 = "SHA-224"
    SHA_256 = "SHA-256"
    SHA_384 = "SHA-384"
    SHA_512 = "SHA-512"
    SCEP_STANDARD = "SCEPStandard"
    #: Draft-era keyword (never standardised; some servers send it).
    UPDATE = "Update"

    def __str__(self) -> str:
        return self.value
