"""Parsing a pkiMessage (RFC 8894 section 3.2): any bytes to an `UnverifiedPKIMessage`.

The first of the three steps (then `verify`, then `decrypt`). Also the
errors a step raises about a received message: they carry its
transactionID and senderNonce (`protocol_error`, `answerable_by_ids`), so a
server can still answer with a CertRep FAILURE.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from pyscep._asn1 import ScepAttributes as _Asn1Attributes
from pyscep._boundary import field as parse_field
from pyscep._der import DEFAULT_LIMITS, Limits
from pyscep.algorithms import ContentCipher, DigestAlgorithm
from pyscep.cms.signed import ParsedSignerInfo, parse_signed_data, parse_signed_envelope
from pyscep.enums import FailInfo
from pyscep.errors import ParseError, RemoteProtocolError, ScepError, VerificationError
from pyscep.findings import Finding, FindingCode
from pyscep.messages.attributes import ScepAttributes, decode_parsed, decode_read
from pyscep.messages.pkimessage.values import UnverifiedPKIMessage, unverified_message
from pyscep.messages.reply import ReplyTo, answerable

__all__ = ["parse_pki_message"]


def parse_pki_message(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> UnverifiedPKIMessage:
    """Parse any bytes into an unverified pkiMessage.

    Raises ParseError on any defect, and VerificationError for a message with
    several SignerInfos. An unknown or missing messageType raises
    RemoteProtocolError (badRequest) carrying the transactionID and
    senderNonce when they could be read (and ``reply_to``), so a server can
    still answer with a CertRep FAILURE.
    """
    signed = parse_signed_data(data, limits=limits)
    findings: list[Finding] = list(signed.findings)
    if not signed.signer_infos:
        raise ParseError("a pkiMessage has a SignerInfo", path=("SignedData", "signerInfos"))
    if len(signed.signer_infos) > 1:
        # Which signer would count? Parsers that pick the first or the last disagree.
        raise VerificationError(f"a pkiMessage has one SignerInfo, not {len(signed.signer_infos)}")
    if signed.content_type != "data":
        raise ParseError(
            f"eContentType is {signed.content_type}, not data", path=("encapContentInfo",)
        )
    info = signed.signer_infos[0]
    if info.signed_attrs_der is None:
        raise ParseError(
            "a pkiMessage has signed attributes",
            path=("SignerInfo",),
            fail_info=FailInfo.BAD_MESSAGE_CHECK,
        )
    with parse_field("signedAttrs"):
        try:
            attributes, attribute_findings = _decode_attributes(info, info.signed_attrs_der)
        except RemoteProtocolError as exc:
            raise answerable_by_ids(exc, exc.transaction_id, exc.sender_nonce) from None
        findings.extend(attribute_findings)
        signing_time = None
        for name, values in info.cms_attribute_values:
            if name == "signing_time" and len(values) == 1 and isinstance(values[0], datetime):
                signing_time = values[0]
    if attributes.message_type is None:
        raise protocol_error(attributes, "messageType is missing")
    if not info.signed_attrs_in_der_order:
        findings.append(
            Finding(FindingCode.UNSORTED_SIGNED_ATTRIBUTES, "signed attributes not in DER order")
        )
    if "content_type" not in info.signed_attr_types:
        findings.append(Finding(FindingCode.MISSING_CONTENT_TYPE, "no contentType attribute"))
    if attributes.sender_nonce is None:
        findings.append(Finding(FindingCode.MISSING_SENDER_NONCE, "no senderNonce attribute"))
    named = [c for c in signed.certificates if info.names(c)]
    if not named:
        findings.append(
            Finding(FindingCode.SIGNER_CERTIFICATE_ABSENT, "signer certificate not embedded")
        )
    for certificate in named:
        if "authority_key_identifier" in certificate.critical_extensions:
            findings.append(
                Finding(
                    FindingCode.CRITICAL_AUTHORITY_KEY_IDENTIFIER,
                    f"the signer certificate {certificate.subject!r} marks"
                    " authorityKeyIdentifier critical",
                )
            )
    if info.digest_algorithm == DigestAlgorithm.MD5.value:
        findings.append(Finding(FindingCode.LEGACY_ALGORITHM, "MD5 digest"))

    envelope = None
    if signed.content:
        with parse_field("pkcsPKIEnvelope"):
            envelope = parse_signed_envelope(signed, limits=limits)
        assert envelope is not None  # there is eContent
        if envelope.cipher_name in (ContentCipher.DES_CBC.value, ContentCipher.BLOWFISH_CBC.value):
            findings.append(
                Finding(FindingCode.LEGACY_ALGORITHM, f"{envelope.cipher_name} content encryption")
            )
        if envelope.encrypted_content_constructed:
            findings.append(
                Finding(
                    FindingCode.CONSTRUCTED_ENCRYPTED_CONTENT,
                    "encryptedContent is a constructed OCTET STRING",
                )
            )
    return unverified_message(
        der=data,
        attributes=attributes,
        signed=signed,
        signer_info=info,
        signing_time=signing_time,
        envelope=envelope,
        findings=tuple(findings),
    )


def _decode_attributes(
    info: ParsedSignerInfo, signed_attrs_der: bytes
) -> tuple[ScepAttributes, tuple[Finding, ...]]:
    """The SCEP attributes: from the values the DER fast path read, else through asn1crypto."""
    fast = info.read_fast_attributes(decode_read)
    if fast is not None:
        return fast
    return decode_parsed(_Asn1Attributes.load(signed_attrs_der))


_Error = TypeVar("_Error", bound=ScepError)


def answerable_by_ids(
    error: _Error, transaction_id: str | None, sender_nonce: bytes | None
) -> _Error:
    """``error`` with a bare ReplyTo (IDs only) when it has none and the IDs are known.

    A copy (`answerable`): an error already raised is never changed.
    """
    if error.reply_to is None and transaction_id and sender_nonce is not None:
        return answerable(error, ReplyTo(transaction_id, sender_nonce))
    return error


def protocol_error(
    message: UnverifiedPKIMessage | ScepAttributes, text: str
) -> RemoteProtocolError:
    """A RemoteProtocolError (badRequest) carrying the message's IDs, and a bare ReplyTo."""
    ids = (message.transaction_id, message.sender_nonce)
    return answerable_by_ids(
        RemoteProtocolError(text, transaction_id=ids[0], sender_nonce=ids[1]), *ids
    )
