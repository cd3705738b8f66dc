"""PRIVATE asn1crypto classes for SCEP, made by subclassing, never by patching.

asn1crypto's ``cms.CMSAttribute`` dispatches attribute values through
``_oid_specs`` keyed by the names of ``CMSAttributeType._map``. Registering
the SCEP OIDs there would change what every other user of asn1crypto in the
process sees, so pyscep declares a parallel attribute type, attribute and
attribute set, and re-parses the signed attributes of a SignerInfo with them
(`ScepAttributes.load(...)`). asn1crypto's global classes stay untouched.
"""

from __future__ import annotations

from asn1crypto import cms, core, csr, keys, x509

from ._setup_asn1crypto import set_up
from ._spki import Certificate, PublicKeyAlgorithm, PublicKeyInfo
from .oids import ScepAttributeOID

__all__ = [
    "AuthEnvelopedData",
    "CMSORIforKEMOtherInfo",
    "Certificate",
    "CertificationRequest",
    "ContentInfo",
    "EccCmsSharedInfo",
    "EncapsulatedContentInfo",
    "EncryptedContentInfo",
    "EnvelopedData",
    "GcmParameters",
    "IssuerAndSubject",
    "KEMRecipientInfo",
    "NameValuePair",
    "OneAsymmetricKey",
    "PublicKeyInfo",
    "ScepAttribute",
    "ScepAttributeType",
    "ScepAttributes",
    "ScepString",
    "SignedData",
]


class ScepAttributeType(cms.CMSAttributeType):
    """CMSAttributeType that also names the SCEP attributes."""

    _map = {  # noqa: RUF012 - asn1crypto reads class attributes
        **cms.CMSAttributeType._map,
        ScepAttributeOID.MESSAGE_TYPE: "message_type",
        ScepAttributeOID.PKI_STATUS: "pki_status",
        ScepAttributeOID.FAIL_INFO: "fail_info",
        ScepAttributeOID.SENDER_NONCE: "sender_nonce",
        ScepAttributeOID.RECIPIENT_NONCE: "recipient_nonce",
        ScepAttributeOID.TRANSACTION_ID: "transaction_id",
        ScepAttributeOID.FAIL_INFO_TEXT: "fail_info_text",
    }
    # ValueMap._setup builds the reverse map only when it is None; without
    # this the subclass would inherit the parent's finished one.
    _reverse_map = None


class ScepString(core.Choice):
    """PrintableString as RFC 8894 requires, tolerating UTF8String and IA5String.

    Peers send UTF8String where PrintableString is due (openssl req does for
    challengePassword); `.name` tells which arrived. Builders always emit
    PrintableString.
    """

    _alternatives = [  # noqa: RUF012
        ("printable_string", core.PrintableString),
        ("utf8_string", core.UTF8String),
        ("ia5_string", core.IA5String),
    ]


class SetOfScepString(core.SetOf):
    """Attribute values of a string-valued SCEP attribute."""

    _child_spec = ScepString


class SetOfOctetString(core.SetOf):
    """Attribute values of a nonce attribute."""

    _child_spec = core.OctetString


class SetOfUTF8String(core.SetOf):
    """Attribute values of failInfoText."""

    _child_spec = core.UTF8String


class ScepAttribute(cms.CMSAttribute):
    """A signed attribute whose value spec knows the SCEP attributes."""

    _fields = [  # noqa: RUF012 - a new list: Sequence._setup rewrites it in place
        ("type", ScepAttributeType),
        ("values", None),
    ]
    _oid_specs = {  # noqa: RUF012
        **cms.CMSAttribute._oid_specs,
        "message_type": SetOfScepString,
        "pki_status": SetOfScepString,
        "fail_info": SetOfScepString,
        "transaction_id": SetOfScepString,
        "sender_nonce": SetOfOctetString,
        "recipient_nonce": SetOfOctetString,
        "fail_info_text": SetOfUTF8String,
    }


class ScepAttributes(cms.CMSAttributes):
    """The SET OF signed attributes of a pkiMessage."""

    _child_spec = ScepAttribute


class NameValuePair(core.Sequence):
    """Microsoft's enrollmentNameValuePair (1.3.6.1.4.1.311.13.2.1): two BMPStrings."""

    _fields = [  # noqa: RUF012
        ("name", core.BMPString),
        ("value", core.BMPString),
    ]


class IssuerAndSubject(core.Sequence):
    """CertPoll / GetCertInitial content (RFC 8894 section 3.3.3).

    IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name }
    """

    _fields = [  # noqa: RUF012
        ("issuer", x509.Name),
        ("subject", x509.Name),
    ]


# --- CMS containers that read what real peers send ---------------------------
#
# Two departures from asn1crypto's stock classes, both for peers' BER:
# - eContent and encryptedContent are kept as raw `Any` and read with
#   `pyscep._der.octet_string_value`, because asn1crypto rejects a
#   definite-length constructed OCTET STRING (micromdm's encryptedContent).
# - eContent is read by one rule whatever the SignedData version (the
#   contents octets of the OCTET STRING), so a version flip cannot change
#   what gets hashed.


class EncapsulatedContentInfo(core.Sequence):
    """EncapsulatedContentInfo with eContent left raw."""

    _fields = [  # noqa: RUF012
        ("content_type", cms.ContentType),
        ("content", core.Any, {"explicit": 0, "optional": True}),
    ]


class SignedData(cms.SignedData):
    """SignedData whose encapContentInfo is `EncapsulatedContentInfo`."""

    _fields = [  # noqa: RUF012
        ("version", cms.CMSVersion),
        ("digest_algorithms", cms.DigestAlgorithms),
        ("encap_content_info", EncapsulatedContentInfo),
        ("certificates", cms.CertificateSet, {"implicit": 0, "optional": True}),
        ("crls", cms.RevocationInfoChoices, {"implicit": 1, "optional": True}),
        ("signer_infos", cms.SignerInfos),
    ]
    _spec_callbacks = None


class EncryptedContentInfo(cms.EncryptedContentInfo):
    """EncryptedContentInfo with encryptedContent left raw."""

    _fields = [  # noqa: RUF012
        ("content_type", cms.ContentType),
        ("content_encryption_algorithm", cms.EncryptionAlgorithm),
        ("encrypted_content", core.Any, {"implicit": 0, "optional": True}),
    ]


class EnvelopedData(cms.EnvelopedData):
    """EnvelopedData whose encryptedContentInfo is `EncryptedContentInfo`."""

    _fields = [  # noqa: RUF012
        ("version", cms.CMSVersion),
        ("originator_info", cms.OriginatorInfo, {"implicit": 0, "optional": True}),
        ("recipient_infos", cms.RecipientInfos),
        ("encrypted_content_info", EncryptedContentInfo),
        ("unprotected_attrs", cms.CMSAttributes, {"implicit": 1, "optional": True}),
    ]


class EccCmsSharedInfo(core.Sequence):
    """ECC-CMS-SharedInfo (RFC 5753 section 7.2), the X9.63 KDF's SharedInfo."""

    _fields = [  # noqa: RUF012
        ("key_info", cms.KeyEncryptionAlgorithm),
        ("entity_u_info", core.OctetString, {"explicit": 0, "optional": True}),
        ("supp_pub_info", core.OctetString, {"explicit": 2}),
    ]


class CertificationRequestInfo(csr.CertificationRequestInfo):
    """CertificationRequestInfo reading the key with `PublicKeyInfo`."""

    _fields = [  # noqa: RUF012
        (field[0], PublicKeyInfo, *field[2:]) if field[0] == "subject_pk_info" else field
        for field in csr.CertificationRequestInfo._fields
    ]


class CertificationRequest(csr.CertificationRequest):
    """CertificationRequest whose info is `CertificationRequestInfo`."""

    _fields = [  # noqa: RUF012
        (field[0], CertificationRequestInfo, *field[2:])
        if field[0] == "certification_request_info"
        else field
        for field in csr.CertificationRequest._fields
    ]


class OneAsymmetricKey(core.Sequence):
    """OneAsymmetricKey (RFC 5958), the private key left raw: what PKCS#8 files hold."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("private_key_algorithm", PublicKeyAlgorithm),
        ("private_key", core.OctetString),
        ("attributes", keys.Attributes, {"implicit": 0, "optional": True}),
        ("public_key", core.OctetBitString, {"implicit": 1, "optional": True}),
    ]


class KEMRecipientInfo(core.Sequence):
    """KEMRecipientInfo (RFC 9629 section 3), the oriValue of id-ori-kem."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("rid", cms.RecipientIdentifier),
        ("kem", PublicKeyAlgorithm),
        ("kemct", core.OctetString),
        ("kdf", cms.KeyEncryptionAlgorithm),
        ("kek_length", core.Integer),
        ("ukm", core.OctetString, {"explicit": 0, "optional": True}),
        ("wrap", cms.KeyEncryptionAlgorithm),
        ("encrypted_key", core.OctetString),
    ]


class CMSORIforKEMOtherInfo(core.Sequence):
    """CMSORIforKEMOtherInfo (RFC 9629 section 5), the KDF's info input."""

    _fields = [  # noqa: RUF012
        ("wrap", cms.KeyEncryptionAlgorithm),
        ("kek_length", core.Integer),
        ("ukm", core.OctetString, {"explicit": 0, "optional": True}),
    ]


class GcmParameters(core.Sequence):
    """GCMParameters (RFC 5084 section 3.2): the nonce and the tag length."""

    _fields = [  # noqa: RUF012
        ("nonce", core.OctetString),
        ("icv_length", core.Integer, {"default": 12}),
    ]


class AuthEnvelopedData(core.Sequence):
    """AuthEnvelopedData (RFC 5083), encryptedContent left raw."""

    _fields = [  # noqa: RUF012
        ("version", cms.CMSVersion),
        ("originator_info", cms.OriginatorInfo, {"implicit": 0, "optional": True}),
        ("recipient_infos", cms.RecipientInfos),
        ("auth_encrypted_content_info", EncryptedContentInfo),
        ("auth_attrs", cms.CMSAttributes, {"implicit": 1, "optional": True}),
        ("mac", core.OctetString),
        ("unauth_attrs", cms.CMSAttributes, {"implicit": 2, "optional": True}),
    ]


class ContentInfo(cms.ContentInfo):
    """ContentInfo dispatching to the classes above."""

    _fields = [  # noqa: RUF012
        ("content_type", cms.ContentType),
        ("content", core.Any, {"explicit": 0, "optional": True}),
    ]
    _oid_specs = {  # noqa: RUF012
        "signed_data": SignedData,
        "enveloped_data": EnvelopedData,
        "authenticated_enveloped_data": AuthEnvelopedData,
    }


set_up(list(globals().values()))  # this module's classes too (see _setup_asn1crypto)
