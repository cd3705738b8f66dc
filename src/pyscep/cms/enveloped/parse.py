"""EnvelopedData read from any peer's encoding (RFC 5652 section 6), BER or DER; nothing decrypted.

Canonical DER with key-transport recipients goes to the DER fast path
(`pyscep.cms.enveloped._reader`), anything else to asn1crypto after the
resource pre-scan; both give the same `ParsedEnvelope`. `pyscep.cms.enveloped.open`
opens it.
"""

from __future__ import annotations

from asn1crypto import cms, core

from pyscep import _der_writer as der
from pyscep._asn1 import AuthEnvelopedData, ContentInfo, GcmParameters
from pyscep._boundary import field
from pyscep._der import (
    DEFAULT_LIMITS,
    Limits,
    count_children,
    octet_string_value,
    prescan,
    read_header,
)
from pyscep._der_reader import Reader
from pyscep._parser_switch import read_fast
from pyscep.algorithms import ContentCipher
from pyscep.cms._identifiers import read_identifier
from pyscep.cms.kem import _kem_views
from pyscep.cms.key_agreement import _key_agreement_views
from pyscep.cms.password import _password_parameters
from pyscep.errors import ParseError, UnsupportedAlgorithmError
from pyscep.oids import CipherOID, PostQuantumOID

from ._reader import read_enveloped_data
from .values import MAX_AUTH_ATTRIBUTES, MAX_RECIPIENTS, ParsedEnvelope, RecipientView

__all__ = ["parse_auth_enveloped_data", "parse_enveloped_data"]


def parse_enveloped_data(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ParsedEnvelope:
    """Read a ContentInfo(EnvelopedData), BER or DER; raise ParseError on any defect.

    Canonical DER with key-transport recipients is read by the DER fast path
    (`pyscep._der_reader`); anything else by asn1crypto, after the resource
    pre-scan: asn1crypto never sees input over the limits.
    """
    fast = read_fast("enveloped_data", lambda: read_enveloped_data(Reader(data, limits)))
    if fast is not None:
        return fast
    # BER, or a shape the fast path leaves to asn1crypto (or the fast path is off).
    prescan(data, limits)
    with field("ContentInfo"):
        info = ContentInfo.load(data, strict=True)
        if info["content_type"].native == "authenticated_enveloped_data":
            raise UnsupportedAlgorithmError(
                "this is an AuthEnvelopedData: read it with parse_auth_enveloped_data"
            )
        if info["content_type"].native != "enveloped_data":
            raise ParseError(f"content type is {info['content_type'].native}, not envelopedData")
        enveloped = info["content"]
        if not isinstance(enveloped, cms.EnvelopedData):
            raise ParseError("envelopedData content is missing")
        with field("EnvelopedData"):
            return _parse_enveloped(enveloped)


def parse_auth_enveloped_data(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ParsedEnvelope:
    """Read a ContentInfo(AuthEnvelopedData) (RFC 5083), BER or DER, with AES-GCM content
    (RFC 5084); raise ParseError on any defect. Nothing is decrypted.

    The result's ``mac``, ``auth_attrs_der`` and ``tag_length`` are set;
    `pyscep.cms.open_with_key` and `decrypt_envelope` open it as they open an
    EnvelopedData, and check the tag.
    """
    prescan(data, limits)
    with field("ContentInfo"):
        info = ContentInfo.load(data, strict=True)
        if info["content_type"].native != "authenticated_enveloped_data":
            raise ParseError(
                f"content type is {info['content_type'].native}, not authEnvelopedData"
            )
        auth_enveloped = info["content"]
        if not isinstance(auth_enveloped, AuthEnvelopedData):
            raise ParseError("authEnvelopedData content is missing")
        with field("AuthEnvelopedData"):
            return _parse_auth_enveloped(auth_enveloped)


def _parse_auth_enveloped(auth_enveloped: AuthEnvelopedData) -> ParsedEnvelope:
    with field("version"):
        if auth_enveloped["version"].native != "v0":
            raise ParseError("AuthEnvelopedData version is 0")
    recipients = _parse_recipients(auth_enveloped["recipient_infos"])
    with field("authEncryptedContentInfo"):
        eci = auth_enveloped["auth_encrypted_content_info"]
        content_type = str(eci["content_type"].native)
        algorithm = eci["content_encryption_algorithm"]
        cipher_oid = str(algorithm["algorithm"].dotted)
        if cipher_oid not in PostQuantumOID.AES_GCM.values():
            raise UnsupportedAlgorithmError(
                f"unsupported authenticated cipher {algorithm['algorithm'].native}"
            )
        with field("GCMParameters"):
            parameters = GcmParameters.load(algorithm["parameters"].dump(), strict=True)
            nonce = bytes(parameters["nonce"].native)
            tag_length = int(parameters["icv_length"].native)
        encrypted_content, constructed = _encrypted_content(eci.contents)
    with field("authAttrs"):
        attributes = auth_enveloped["auth_attrs"]
        auth_attrs_der = None
        if not isinstance(attributes, core.Void):
            contents = attributes.contents or b""
            count_children(contents, MAX_AUTH_ATTRIBUTES, "authAttrs")
            # The AAD: the attributes as received, under the universal SET tag (RFC 5083 2.2).
            auth_attrs_der = der.tlv(0x31, contents)
    with field("mac"):
        mac = bytes(auth_enveloped["mac"].native)
    return ParsedEnvelope(
        version="v0",
        recipients=recipients,
        content_type=content_type,
        cipher_name=str(algorithm["algorithm"].native),
        cipher_oid=cipher_oid,
        iv=nonce,
        encrypted_content=encrypted_content,
        encrypted_content_constructed=constructed,
        mac=mac,
        auth_attrs_der=auth_attrs_der,
        tag_length=tag_length,
    )


def _parse_recipients(infos: cms.RecipientInfos) -> tuple[RecipientView, ...]:
    recipients = []
    with field("recipientInfos"):
        if count_children(infos.contents or b"", MAX_RECIPIENTS, "RecipientInfos") == 0:
            raise ParseError("no RecipientInfo")
        for index, recipient in enumerate(infos):
            with field(f"[{index}]"):
                recipients.extend(_parse_recipient(recipient))
    return tuple(recipients)


def _parse_enveloped(enveloped: cms.EnvelopedData) -> ParsedEnvelope:
    with field("version"):
        version = str(enveloped["version"].native)
    recipients = _parse_recipients(enveloped["recipient_infos"])
    with field("encryptedContentInfo"):
        eci = enveloped["encrypted_content_info"]
        content_type = str(eci["content_type"].native)
        algorithm = eci["content_encryption_algorithm"]
        cipher_name = str(algorithm["algorithm"].native)
        cipher_oid = str(algorithm["algorithm"].dotted)
        iv = None
        try:
            params = algorithm["parameters"]
            if cipher_oid == CipherOID.BLOWFISH_CBC:
                # Unknown to asn1crypto: its IV parameter arrives untyped.
                cipher_name = ContentCipher.BLOWFISH_CBC.value
                params = core.OctetString.load(params.dump(), strict=True)
            if isinstance(params, core.OctetString):
                iv = bytes(params.native)
        except (ValueError, TypeError, KeyError):
            iv = None  # an unusable IV fails decryption uniformly later
        encrypted_content, constructed = _encrypted_content(eci.contents)
    return ParsedEnvelope(
        version=version,
        recipients=recipients,
        content_type=content_type,
        cipher_name=cipher_name,
        cipher_oid=cipher_oid,
        iv=iv,
        encrypted_content=encrypted_content,
        encrypted_content_constructed=constructed,
    )


def _encrypted_content(contents: bytes) -> tuple[bytes | None, bool]:
    """encryptedContent ``[0] IMPLICIT OCTET STRING`` read from the raw sequence contents.

    Read with pyscep's TLV reader: primitive and segmented forms alike.
    """
    position = 0
    for _ in range(2):  # contentType, contentEncryptionAlgorithm
        position = read_header(contents, position).end
    if position == len(contents):
        return None, False
    element = read_header(contents, position)
    if element.tag_class != 2 or element.tag_number != 0 or element.end != len(contents):
        raise ParseError("unexpected element after contentEncryptionAlgorithm")
    return octet_string_value(contents[element.start : element.end]), element.constructed


def _parse_recipient(recipient: cms.RecipientInfo) -> list[RecipientView]:
    try:
        return _read_recipient(recipient)
    except UnsupportedAlgorithmError as exc:
        # Well-formed but beyond pyscep: kept, and said when someone tries to open it.
        return [RecipientView(kind=str(recipient.name), unsupported=str(exc))]


def _read_recipient(recipient: cms.RecipientInfo) -> list[RecipientView]:
    if recipient.name == "kari":
        kari = recipient.chosen
        scheme = str(kari["key_encryption_algorithm"]["algorithm"].dotted)
        return [
            RecipientView(
                kind="kari",
                version=str(kari["version"].native),
                issuer_der=issuer_der,
                serial=serial,
                key_identifier=key_identifier,
                key_encryption_algorithm=scheme,
                encrypted_key=encrypted_key,
                agreement=agreement,
            )
            for agreement, issuer_der, serial, key_identifier, encrypted_key in (
                _key_agreement_views(kari)
            )
        ]
    if recipient.name == "pwri":
        pwri = recipient.chosen
        parameters = _password_parameters(pwri)
        return [
            RecipientView(
                kind="pwri",
                version=str(pwri["version"].native),
                key_encryption_algorithm=parameters.key_encryption_oid,
                encrypted_key=bytes(pwri["encrypted_key"].native),
                password=parameters,
            )
        ]
    if recipient.name == "ori":
        ori = recipient.chosen
        if ori["ori_type"].dotted != PostQuantumOID.KEM_RECIPIENT:
            return [RecipientView(kind="ori")]
        kem, issuer_der, serial, key_identifier, encrypted_key = _kem_views(ori)
        return [
            RecipientView(
                kind="kemri",
                version="0",
                issuer_der=issuer_der,
                serial=serial,
                key_identifier=key_identifier,
                key_encryption_algorithm=kem.wrap_oid,
                encrypted_key=encrypted_key,
                kem=kem,
            )
        ]
    if recipient.name != "ktri":
        return [RecipientView(kind=str(recipient.name))]
    return [_key_transport_view(recipient.chosen)]


def _key_transport_view(ktri: cms.KeyTransRecipientInfo) -> RecipientView:
    issuer_der, serial, key_identifier = read_identifier(ktri["rid"])
    algorithm = ktri["key_encryption_algorithm"]
    raw_params = algorithm["parameters"]
    params_der = None
    if isinstance(raw_params, core.Void):
        params_state = "absent"
    elif isinstance(raw_params, core.Null):
        params_state = "NULL"
    else:
        params_state = "present"
        params_der = bytes(raw_params.dump())
    return RecipientView(
        kind="ktri",
        version=str(ktri["version"].native),
        issuer_der=issuer_der,
        serial=serial,
        key_identifier=key_identifier,
        key_encryption_algorithm=str(algorithm["algorithm"].native),
        key_encryption_parameters=params_state,
        key_encryption_parameters_der=params_der,
        encrypted_key=bytes(ktri["encrypted_key"].native),
    )
