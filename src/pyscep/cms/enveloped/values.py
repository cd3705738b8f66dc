"""The EnvelopedData values: what reading one gives (RFC 5652 section 6), nothing decrypted.

Small frozen dataclasses holding DER bytes and pyscep values, never asn1crypto
objects, and the same whichever of pyscep's two parsers read the input.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyscep.certificate import Certificate
from pyscep.cms.kem import KemParameters
from pyscep.cms.key_agreement import KeyAgreement
from pyscep.cms.password import PasswordParameters

__all__ = ["MAX_AUTH_ATTRIBUTES", "MAX_RECIPIENTS", "ParsedEnvelope", "RecipientView"]

#: Most RecipientInfos an envelope may carry.
MAX_RECIPIENTS = 16
#: Most authenticated attributes an AuthEnvelopedData may carry.
MAX_AUTH_ATTRIBUTES = 64


@dataclass(frozen=True)
class RecipientView:
    """One RecipientInfo as found; a KeyAgreeRecipientInfo gives one per recipient key."""

    #: ``ktri``, ``kari``, ``kekri``, ``pwri``, ``kemri`` (the id-ori-kem
    #: OtherRecipientInfo, RFC 9629) or ``ori`` (any other).
    kind: str
    version: str | None = None
    #: DER of the rid's issuer Name (IssuerAndSerialNumber form).
    issuer_der: bytes | None = None
    serial: int | None = None
    key_identifier: bytes | None = None
    #: asn1crypto name of keyEncryptionAlgorithm (``rsaes_pkcs1v15``, ``rsaes_oaep``).
    key_encryption_algorithm: str | None = None
    #: ``NULL``, ``absent`` or ``present``: parameters of keyEncryptionAlgorithm.
    key_encryption_parameters: str | None = None
    #: DER of the keyEncryptionAlgorithm parameters (RSAES-OAEP-params), when present.
    key_encryption_parameters_der: bytes | None = None
    encrypted_key: bytes = b""
    #: kari: the originator's key, the scheme and the key wrap.
    agreement: KeyAgreement | None = None
    #: pwri: the key derivation and the key wrap.
    password: PasswordParameters | None = None
    #: kemri: the KEM, its ciphertext, the KDF and the key wrap.
    kem: KemParameters | None = None
    #: Why this kari, pwri or kemri cannot be opened by pyscep (a public fact), if it cannot.
    unsupported: str | None = None

    def addressed_to(self, certificate: Certificate) -> bool:
        """True when this RecipientInfo names ``certificate``."""
        return self.kind in ("ktri", "kari", "kemri") and certificate.is_named_by(
            self.issuer_der, self.serial, self.key_identifier
        )


@dataclass(frozen=True)
class ParsedEnvelope:
    """An EnvelopedData (or AuthEnvelopedData, RFC 5083) read from bytes; nothing decrypted."""

    version: str
    recipients: tuple[RecipientView, ...]
    content_type: str
    #: asn1crypto name of the content cipher, or its dotted OID when unknown.
    cipher_name: str
    cipher_oid: str
    iv: bytes | None
    encrypted_content: bytes | None
    #: True when encryptedContent arrived as a constructed (segmented) string.
    encrypted_content_constructed: bool
    #: AuthEnvelopedData only: the mac (the AES-GCM tag), the authenticated attributes
    #: as the AAD (a DER SET, re-tagged as received), and the tag length GCM's
    #: parameters declare (RFC 5084 section 3.2).
    mac: bytes | None = None
    auth_attrs_der: bytes | None = None
    tag_length: int | None = None

    @property
    def authenticated(self) -> bool:
        """True for an AuthEnvelopedData."""
        return self.mac is not None
