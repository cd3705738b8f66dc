"""Dotted object identifiers used by SCEP and the CMS structures it is made of."""

from __future__ import annotations

__all__ = ["CipherOID", "ScepAttributeOID"]


class ScepAttributeOID:
    """Signed attributes of a pkiMessage (RFC 8894 section 3.2.1)."""

    #: id-VeriSign pki attributes: 2.16.840.1.113733.1.9.x
    MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
    PKI_STATUS = "2.16.840.1.113733.1.9.3"
    FAIL_INFO = "2.16.840.1.113733.1.9.4"
    SENDER_NONCE = "2.16.840.1.113733.1.9.5"
    RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
    TRANSACTION_ID = "2.16.840.1.113733.1.9.7"
    #: id-scep-failInfoText = id-pkix 24 1 (RFC 8894 section 3.2.1.4).
    FAIL_INFO_TEXT = "1.3.6.1.5.5.7.24.1"


class CipherOID:
    """Content ciphers asn1crypto does not name."""

    #: Blowfish-CBC (Cryptlib's arc), sent by ``sscep enroll -E blowfish``.
    BLOWFISH_CBC = "1.3.6.1.4.1.3029.1.2"
