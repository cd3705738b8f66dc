"""Deviations a parse tolerated, as structured findings (for conformance testing).

Each `Finding` is created where the deviation is seen, with its code; nothing
is classified afterwards by its text. `pyscep inspect --strict` turns any
finding into a non-zero exit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Finding", "FindingCode"]


class FindingCode(str, enum.Enum):
    """What kind of deviation was seen."""

    BER_INDEFINITE_LENGTH = "ber-indefinite-length"
    BER_CONSTRUCTED_STRING = "ber-constructed-string"
    BER_NON_MINIMAL_LENGTH = "ber-non-minimal-length"
    UNSORTED_SIGNED_ATTRIBUTES = "unsorted-signed-attributes"
    MISSING_CONTENT_TYPE = "missing-content-type"
    MISSING_SENDER_NONCE = "missing-sender-nonce"
    NONCE_LENGTH = "nonce-length"
    SENDER_NONCE_REUSED = "sender-nonce-reused"
    RECIPIENT_NONCE_MISMATCH = "recipient-nonce-mismatch"
    SIGNER_CERTIFICATE_ABSENT = "signer-certificate-absent"
    LEGACY_ALGORITHM = "legacy-algorithm"
    NOT_PRINTABLE_STRING = "not-printable-string"
    UNKNOWN_ATTRIBUTE = "unknown-attribute"
    UNPARSABLE_CERTIFICATE = "unparsable-certificate"
    UNUSED_CERTIFICATE_CHOICE = "unused-certificate-choice"
    CONSTRUCTED_ENCRYPTED_CONTENT = "constructed-encrypted-content"
    #: A CSR extension or attribute whose value is not of the type its OID calls
    #: for (kept as raw DER; the request still parses).
    MISTYPED_VALUE = "mistyped-value"
    #: A value too large to decode for display (kept as raw DER; nothing acts on it).
    OVERSIZED_VALUE = "oversized-value"
    #: The signer's certificate marks authorityKeyIdentifier critical, which RFC 5280
    #: section 4.2.1.1 forbids (Windows' own SCEP client does it on its self-signed
    #: certificate). Accepted: the signature, not the extension, is what is checked.
    CRITICAL_AUTHORITY_KEY_IDENTIFIER = "critical-authority-key-identifier"
    #: The request asks for a Windows account SID (a subjectAltName URI or the SID
    #: extension, `pyscep.sid`): never copied into a certificate, whatever the policy.
    REQUESTED_SID = "requested-sid"
    #: An algorithm pyscep reads only far enough to name (a composite ML-DSA or ML-KEM
    #: of the LAMPS drafts, SLH-DSA, HashML-DSA): reported, never verified or opened.
    NAMED_ONLY_ALGORITHM = "named-only-algorithm"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    """One tolerated deviation: a stable code and a human-readable detail."""

    code: FindingCode
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"
