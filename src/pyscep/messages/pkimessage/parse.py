"""Parsing a pkiMessage (RFC 8894 section 3.2): any bytes to an `UnverifiedPKIMessage`.

The first of the three steps (then `verify`, then `decrypt`). Also the
errors a step raises about a received message: they carry its
transactionID and senderNonce (`protocol_error`, `answerable_by_ids`), so a
server can still answer with a CertRep FAILURE.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import TypeVar

from pyscep._asn1 import ScepAttributes as _Asn1Attributes
from pyscep._boundary import field as parse_field
from pyscep._der import DEFAULT_LIMITS, Limits
from pyscep.algorithms import ContentCipher, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.cms.enveloped import ParsedEnvelope
from pyscep.cms.signed import (
    ParsedSignedData,
    ParsedSignerInfo,
    parse_signed_data,
    parse_signed_envelope,
)
from pyscep.cms.signed._reader import SignedDataHead
from pyscep.cms.signed.parse import _complete_signed_data, _read_signed_deferred
from pyscep.enums import FailInfo
from pyscep.errors import ParseError, RemoteProtocolError, ScepError, VerificationError
from pyscep.findings import Finding, FindingCode
from pyscep.messages.attributes import ScepAttributes, decode_parsed, decode_read
from pyscep.messages.pkimessage.values import (
    UnverifiedPKIMessage,
    read_whole,
    unverified_message,
)
from pyscep.messages.reply import ReplyTo, answerable

__all__ = ["parse_pki_message"]


def parse_pki_message(
    data: bytes, *, limits: Limits = DEFAULT_LIMITS, defer: bool = True
) -> UnverifiedPKIMessage:
    """Parse any bytes into an unverified pkiMessage.

    Reads and checks the SignedData's outer structure, its SignerInfo and the
    signed attributes. The values of the signer's issuer Name, the embedded
    certificates and the pkcsPKIEnvelope are read when first used
    (`UnverifiedPKIMessage.certificates`, ``envelope``, ``findings``, and the
    verify step, which reads them first), within the same limits, raising there
    what parse would have raised here; ``defer=False`` reads them now.

    Raises ParseError on any defect, and VerificationError for a message with
    several SignerInfos. An unknown or missing messageType raises
    RemoteProtocolError (badRequest) carrying the transactionID and
    senderNonce when they could be read (and ``reply_to``), so a server can
    still answer with a CertRep FAILURE.
    """
    if not defer:
        signed = parse_signed_data(data, limits=limits)
        message = _read(data, limits, signed)
        read_whole(message)
        return message
    return _read(data, limits, _read_signed_deferred(data, limits))


def _read(
    data: bytes, limits: Limits, signed: SignedDataHead | ParsedSignedData
) -> UnverifiedPKIMessage:
    """The message from the SignedData's SignerInfos; the whole SignedData of a head is
    read when needed: first of all when this refuses the message, so that an error of
    the SignedData comes first, as it does when everything is read in one pass."""

    def refused(error: ScepError) -> ScepError:
        _whole(signed)
        return error

    signer_infos = signed.signer_infos
    if not signer_infos:
        raise refused(
            ParseError("a pkiMessage has a SignerInfo", path=("SignedData", "signerInfos"))
        )
    if len(signer_infos) > 1:
        # Which signer would count? Parsers that pick the first or the last disagree.
        raise refused(
            VerificationError(f"a pkiMessage has one SignerInfo, not {len(signer_infos)}")
        )
    if signed.content_type != "data":
        raise refused(
            ParseError(
                f"eContentType is {signed.content_type}, not data", path=("encapContentInfo",)
            )
        )
    info = signer_infos[0]
    if info.signed_attrs_der is None:
        raise refused(
            ParseError(
                "a pkiMessage has signed attributes",
                path=("SignerInfo",),
                fail_info=FailInfo.BAD_MESSAGE_CHECK,
            )
        )
    try:
        with parse_field("signedAttrs"):
            try:
                attributes, attribute_findings = _decode_attributes(info, info.signed_attrs_der)
            except RemoteProtocolError as exc:
                raise answerable_by_ids(exc, exc.transaction_id, exc.sender_nonce) from None
    except ScepError:
        _whole(signed)
        raise
    signing_time = None
    for name, values in info.cms_attribute_values:
        if name == "signing_time" and len(values) == 1 and isinstance(values[0], datetime):
            signing_time = values[0]
    if attributes.message_type is None:
        raise refused(protocol_error(attributes, "messageType is missing"))
    return unverified_message(
        der=data,
        attributes=attributes,
        signer_info=info,
        signing_time=signing_time,
        # A partial of module-level functions, not a closure: the message pickles.
        read_rest=partial(_read_rest, signed, limits, info, attributes, attribute_findings),
    )


def _whole(
    signed: SignedDataHead | ParsedSignedData, held: Mapping[bytes, Certificate] | None = None
) -> ParsedSignedData:
    """The whole SignedData: read now from its head (embedded certificates ``held`` has
    are those values), or as it was read."""
    if isinstance(signed, SignedDataHead):
        return _complete_signed_data(signed, held)
    return signed


def _read_rest(
    signed: SignedDataHead | ParsedSignedData,
    limits: Limits,
    info: ParsedSignerInfo,
    attributes: ScepAttributes,
    attribute_findings: tuple[Finding, ...],
    held: Mapping[bytes, Certificate],
) -> tuple[ParsedSignedData, ParsedEnvelope | None, tuple[Finding, ...]]:
    """What parse deferred: the whole SignedData, its envelope, and every finding."""
    whole = _whole(signed, held)
    if whole.signer_infos != (info,):
        # The rest fell back to asn1crypto, which must read the SignerInfo the fast path
        # read: one signer, verified and acted on. Otherwise pyscep's parsers disagree.
        raise AssertionError("the two parsers read different SignerInfos")  # pragma: no cover
    findings: list[Finding] = [*whole.findings, *attribute_findings]
    findings.extend(_signer_findings(info, attributes, whole.certificates))
    envelope = None
    if whole.content:
        with parse_field("pkcsPKIEnvelope"):
            envelope = parse_signed_envelope(whole, limits=limits)
        assert envelope is not None  # there is eContent
        findings.extend(_envelope_findings(envelope))
    return whole, envelope, tuple(findings)


def _signer_findings(
    info: ParsedSignerInfo, attributes: ScepAttributes, certificates: tuple[Certificate, ...]
) -> list[Finding]:
    findings = []
    if not info.signed_attrs_in_der_order:
        findings.append(
            Finding(FindingCode.UNSORTED_SIGNED_ATTRIBUTES, "signed attributes not in DER order")
        )
    if "content_type" not in info.signed_attr_types:
        findings.append(Finding(FindingCode.MISSING_CONTENT_TYPE, "no contentType attribute"))
    if attributes.sender_nonce is None:
        findings.append(Finding(FindingCode.MISSING_SENDER_NONCE, "no senderNonce attribute"))
    named = [c for c in certificates if info.names(c)]
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
    return findings


def _envelope_findings(envelope: ParsedEnvelope) -> list[Finding]:
    findings = []
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
    return findings


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
