"""Dotted object identifiers used by SCEP and the CMS structures it is made of."""

from __future__ import annotations

__all__ = ["AlgorithmOID", "ContentTypeOID", "ScepAttributeOID"]


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


class ContentTypeOID:
    """CMS content types and the PKCS#9 attributes every SignedData carries."""

    DATA = "1.2.840.113549.1.7.1"
    SIGNED_DATA = "1.2.840.113549.1.7.2"
    ENVELOPED_DATA = "1.2.840.113549.1.7.3"
    CONTENT_TYPE_ATTRIBUTE = "1.2.840.113549.1.9.3"
    MESSAGE_DIGEST_ATTRIBUTE = "1.2.840.113549.1.9.4"
    SIGNING_TIME_ATTRIBUTE = "1.2.840.113549.1.9.5"
    CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7"  # noqa: S105 - an OID, not a secret
    EXTENSION_REQUEST = "1.2.840.113549.1.9.14"


class AlgorithmOID:
    """The algorithms pyscep implements."""

    MD5 = "1.2.840.113549.2.5"
    SHA1 = "1.3.14.3.2.26"
    SHA224 = "2.16.840.1.101.3.4.2.4"
    SHA256 = "2.16.840.1.101.3.4.2.1"
    SHA384 = "2.16.840.1.101.3.4.2.2"
    SHA512 = "2.16.840.1.101.3.4.2.3"

    RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
    RSAES_OAEP = "1.2.840.113549.1.1.7"
    RSASSA_PSS = "1.2.840.113549.1.1.10"
    SHA1_WITH_RSA = "1.2.840.113549.1.1.5"
    SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
    ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"

    DES_CBC = "1.3.14.3.2.7"
    DES_EDE3_CBC = "1.2.840.113549.3.7"
    AES128_CBC = "2.16.840.1.101.3.4.1.2"
    AES192_CBC = "2.16.840.1.101.3.4.1.22"
    AES256_CBC = "2.16.840.1.101.3.4.1.42"
