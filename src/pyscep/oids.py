"""Dotted object identifiers used by SCEP and the CMS structures it is made of."""

from __future__ import annotations

__all__ = ["CipherOID", "RecipientOID", "ScepAttributeOID"]


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


class RecipientOID:
    """Key agreement (RFC 5753, SEC 1), key wrap (RFC 3394) and password (RFC 3211) OIDs."""

    #: dhSinglePass-stdDH-*kdf-scheme and dhSinglePass-cofactorDH-*kdf-scheme, by KDF hash.
    #: On the prime curves pyscep accepts the cofactor is 1, so both compute the same Z.
    KEY_AGREEMENT_KDF = {  # noqa: RUF012 - a constant table
        "1.3.133.16.840.63.0.2": "sha1",
        "1.3.132.1.11.0": "sha224",
        "1.3.132.1.11.1": "sha256",
        "1.3.132.1.11.2": "sha384",
        "1.3.132.1.11.3": "sha512",
        "1.3.133.16.840.63.0.3": "sha1",
        "1.3.132.1.14.0": "sha224",
        "1.3.132.1.14.1": "sha256",
        "1.3.132.1.14.2": "sha384",
        "1.3.132.1.14.3": "sha512",
    }
    #: The standard-DH scheme pyscep writes, by KDF hash.
    STD_DH = {  # noqa: RUF012
        "sha1": "1.3.133.16.840.63.0.2",
        "sha224": "1.3.132.1.11.0",
        "sha256": "1.3.132.1.11.1",
        "sha384": "1.3.132.1.11.2",
        "sha512": "1.3.132.1.11.3",
    }
    #: id-aes*-wrap, by key size in bytes.
    AES_WRAP = {  # noqa: RUF012
        16: "2.16.840.1.101.3.4.1.5",
        24: "2.16.840.1.101.3.4.1.25",
        32: "2.16.840.1.101.3.4.1.45",
    }
    #: id-alg-PWRI-KEK (RFC 3211).
    PWRI_KEK = "1.2.840.113549.1.9.16.3.9"
