"""Dotted object identifiers used by SCEP and the CMS structures it is made of."""

from __future__ import annotations

__all__ = ["CipherOID", "PostQuantumOID", "RecipientOID", "ScepAttributeOID"]


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


class PostQuantumOID:
    """ML-DSA (FIPS 204; RFC 9881, RFC 9882), ML-KEM (FIPS 203; RFC 9935, RFC 9936), the
    KEMRecipientInfo (RFC 9629) with HKDF (RFC 8619), AuthEnvelopedData (RFC 5083) with
    AES-GCM (RFC 5084); and, to be reported by name only, SLH-DSA and the composite
    algorithms of the LAMPS drafts (IETF PQC hackathon numbering)."""

    #: Pure ML-DSA keys and signatures (AlgorithmIdentifier without parameters).
    ML_DSA = {  # noqa: RUF012 - a constant table
        "2.16.840.1.101.3.4.3.17": "ml_dsa_44",
        "2.16.840.1.101.3.4.3.18": "ml_dsa_65",
        "2.16.840.1.101.3.4.3.19": "ml_dsa_87",
    }
    #: ML-KEM keys and KEM algorithms.
    ML_KEM = {  # noqa: RUF012
        "2.16.840.1.101.3.4.4.1": "ml_kem_512",
        "2.16.840.1.101.3.4.4.2": "ml_kem_768",
        "2.16.840.1.101.3.4.4.3": "ml_kem_1024",
    }
    #: id-ori-kem: the oriType of a KEMRecipientInfo.
    KEM_RECIPIENT = "1.2.840.113549.1.9.16.13.3"
    #: id-alg-hkdf-with-sha256/384/512, by hash.
    HKDF = {  # noqa: RUF012
        "1.2.840.113549.1.9.16.3.28": "sha256",
        "1.2.840.113549.1.9.16.3.29": "sha384",
        "1.2.840.113549.1.9.16.3.30": "sha512",
    }
    #: id-ct-authEnvelopedData.
    AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"
    #: id-aes*-GCM, by key size in bytes.
    AES_GCM = {  # noqa: RUF012
        16: "2.16.840.1.101.3.4.1.6",
        24: "2.16.840.1.101.3.4.1.26",
        32: "2.16.840.1.101.3.4.1.46",
    }
    #: Algorithms pyscep names but does not implement: HashML-DSA (pre-hash), SLH-DSA
    #: and the composites.
    REPORTED_ONLY = {  # noqa: RUF012
        "2.16.840.1.101.3.4.3.32": "HashML-DSA-44-with-SHA512",
        "2.16.840.1.101.3.4.3.33": "HashML-DSA-65-with-SHA512",
        "2.16.840.1.101.3.4.3.34": "HashML-DSA-87-with-SHA512",
        "2.16.840.1.101.3.4.3.20": "SLH-DSA-SHA2-128S",
        "2.16.840.1.101.3.4.3.21": "SLH-DSA-SHA2-128F",
        "2.16.840.1.101.3.4.3.22": "SLH-DSA-SHA2-192S",
        "2.16.840.1.101.3.4.3.23": "SLH-DSA-SHA2-192F",
        "2.16.840.1.101.3.4.3.24": "SLH-DSA-SHA2-256S",
        "2.16.840.1.101.3.4.3.25": "SLH-DSA-SHA2-256F",
        "2.16.840.1.101.3.4.3.26": "SLH-DSA-SHAKE-128S",
        "2.16.840.1.101.3.4.3.27": "SLH-DSA-SHAKE-128F",
        "2.16.840.1.101.3.4.3.28": "SLH-DSA-SHAKE-192S",
        "2.16.840.1.101.3.4.3.29": "SLH-DSA-SHAKE-192F",
        "2.16.840.1.101.3.4.3.30": "SLH-DSA-SHAKE-256S",
        "2.16.840.1.101.3.4.3.31": "SLH-DSA-SHAKE-256F",
        "2.16.840.1.101.3.4.3.35": "HashSLH-DSA-SHA2-128S-with-SHA256",
        "2.16.840.1.101.3.4.3.36": "HashSLH-DSA-SHA2-128F-with-SHA256",
        "2.16.840.1.101.3.4.3.37": "HashSLH-DSA-SHA2-192S-with-SHA512",
        "2.16.840.1.101.3.4.3.38": "HashSLH-DSA-SHA2-192F-with-SHA512",
        "2.16.840.1.101.3.4.3.39": "HashSLH-DSA-SHA2-256S-with-SHA512",
        "2.16.840.1.101.3.4.3.40": "HashSLH-DSA-SHA2-256F-with-SHA512",
        "2.16.840.1.101.3.4.3.41": "HashSLH-DSA-SHAKE-128S-with-SHAKE128",
        "2.16.840.1.101.3.4.3.42": "HashSLH-DSA-SHAKE-128F-with-SHAKE128",
        "2.16.840.1.101.3.4.3.43": "HashSLH-DSA-SHAKE-192S-with-SHAKE256",
        "2.16.840.1.101.3.4.3.44": "HashSLH-DSA-SHAKE-192F-with-SHAKE256",
        "2.16.840.1.101.3.4.3.45": "HashSLH-DSA-SHAKE-256S-with-SHAKE256",
        "2.16.840.1.101.3.4.3.46": "HashSLH-DSA-SHAKE-256F-with-SHAKE256",
        "1.3.6.1.5.5.7.6.37": "MLDSA44-RSA2048-PSS-SHA256",
        "1.3.6.1.5.5.7.6.38": "MLDSA44-RSA2048-PKCS15-SHA256",
        "1.3.6.1.5.5.7.6.39": "MLDSA44-Ed25519-SHA512",
        "1.3.6.1.5.5.7.6.40": "MLDSA44-ECDSA-P256-SHA256",
        "1.3.6.1.5.5.7.6.41": "MLDSA65-RSA3072-PSS-SHA512",
        "1.3.6.1.5.5.7.6.42": "MLDSA65-RSA3072-PKCS15-SHA512",
        "1.3.6.1.5.5.7.6.43": "MLDSA65-RSA4096-PSS-SHA512",
        "1.3.6.1.5.5.7.6.44": "MLDSA65-RSA4096-PKCS15-SHA512",
        "1.3.6.1.5.5.7.6.45": "MLDSA65-ECDSA-P256-SHA512",
        "1.3.6.1.5.5.7.6.46": "MLDSA65-ECDSA-P384-SHA512",
        "1.3.6.1.5.5.7.6.47": "MLDSA65-ECDSA-brainpoolP256r1-SHA512",
        "1.3.6.1.5.5.7.6.48": "MLDSA65-Ed25519-SHA512",
        "1.3.6.1.5.5.7.6.49": "MLDSA87-ECDSA-P384-SHA512",
        "1.3.6.1.5.5.7.6.50": "MLDSA87-ECDSA-brainpoolP384r1-SHA512",
        "1.3.6.1.5.5.7.6.51": "MLDSA87-Ed448-SHAKE256",
        "1.3.6.1.5.5.7.6.52": "MLDSA87-RSA3072-PSS-SHA512",
        "1.3.6.1.5.5.7.6.53": "MLDSA87-RSA4096-PSS-SHA512",
        "1.3.6.1.5.5.7.6.54": "MLDSA87-ECDSA-P521-SHA512",
        "1.3.6.1.5.5.7.6.55": "MLKEM768-RSA2048-SHA3-256",
        "1.3.6.1.5.5.7.6.56": "MLKEM768-RSA3072-SHA3-256",
        "1.3.6.1.5.5.7.6.57": "MLKEM768-RSA4096-SHA3-256",
        "1.3.6.1.5.5.7.6.58": "MLKEM768-X25519-SHA3-256",
        "1.3.6.1.5.5.7.6.59": "MLKEM768-ECDH-P256-SHA3-256",
        "1.3.6.1.5.5.7.6.60": "MLKEM768-ECDH-P384-SHA3-256",
        "1.3.6.1.5.5.7.6.61": "MLKEM768-ECDH-brainpoolP256r1-SHA3-256",
        "1.3.6.1.5.5.7.6.62": "MLKEM1024-RSA3072-SHA3-256",
        "1.3.6.1.5.5.7.6.63": "MLKEM1024-ECDH-P384-SHA3-256",
        "1.3.6.1.5.5.7.6.64": "MLKEM1024-ECDH-brainpoolP384r1-SHA3-256",
        "1.3.6.1.5.5.7.6.65": "MLKEM1024-X448-SHA3-256",
        "1.3.6.1.5.5.7.6.66": "MLKEM1024-ECDH-P521-SHA3-256",
    }
