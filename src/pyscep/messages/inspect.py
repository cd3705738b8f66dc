"""Decode any SCEP payload into a description whose field names are the vectors manifest's.

Used by ``pyscep inspect``; importable for conformance tests. Accepts a
pkiMessage (request or CertRep), any CMS: a bare EnvelopedData or
AuthEnvelopedData (opened with a key, for key-transport, key-agreement and KEM
recipients, or a password), a bare SignedData (verified against the
certificates given and those it carries), a certs-only SignedData; a single
certificate, a GetCACaps body, as DER, PEM, base64, or a GET request line or
query with ``message=``. Algorithms pyscep only names (composites, SLH-DSA,
HashML-DSA) are reported with the finding ``named-only-algorithm``. Inspection
is diagnostic, so it reads legacy algorithms (and reports them as findings) and
treats the certificates it is given, and those embedded in the message, as
trusted signers. Given a key,
it opens any envelope whose RecipientInfo that key can open (a CertRep is
addressed to the requester's throw-away certificate, which nobody has
afterwards), and says which recipient it used.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import cms, pem

from pyscep._der import prescan
from pyscep._extensions import name_text
from pyscep.algorithms import LEGACY
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import CertsOnly, parse_certs_only
from pyscep.cms.enveloped import (
    ParsedEnvelope,
    RecipientView,
    open_with_key,
    open_with_password,
    parse_auth_enveloped_data,
    parse_enveloped_data,
)
from pyscep.cms.signed import ParsedSignedData, parse_signed_data, verify_signed_data
from pyscep.crypto import CryptoBackend, PrivateKey, get_backend
from pyscep.enums import MessageType
from pyscep.errors import ParseError, ScepError
from pyscep.findings import Finding, FindingCode
from pyscep.http import decode_get_message, query_parameter
from pyscep.messages.caps import CACaps
from pyscep.messages.content import CertificationRequest, IssuerAndSerial, IssuerAndSubject
from pyscep.messages.pkimessage.decrypt import content_of
from pyscep.messages.pkimessage.parse import parse_pki_message
from pyscep.messages.pkimessage.values import DecryptedContent, PKIMessage, UnverifiedPKIMessage
from pyscep.messages.pkimessage.verify import verify_cert_rep, verify_request
from pyscep.oids import PostQuantumOID

__all__ = ["Inspection", "describe_certificate", "inspect_payload"]

_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/=\s%_-]+\Z")


@dataclass(frozen=True)
class Inspection:
    """What `inspect_payload` found: a manifest-style description and the findings."""

    kind: str
    description: dict[str, Any]
    findings: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default=())


def describe_certificate(certificate: Certificate) -> dict[str, Any]:
    """subject, serial, serial_hex, issuer, self_signed (the manifest's certificate form),
    and the Windows account SIDs it maps to, when it carries any."""
    described: dict[str, Any] = {
        "subject": certificate.subject,
        "serial": certificate.serial_number,
        "serial_hex": format(certificate.serial_number, "X"),
        "issuer": certificate.issuer,
        "self_signed": certificate.self_signed,
    }
    try:
        sids = certificate.sids
    except ParseError as exc:  # an unreadable subjectAltName or SID extension
        described["sids_error"] = str(exc)
    else:
        if sids:
            described["sids"] = list(sids)
    return described


def _to_der(data: bytes) -> tuple[bytes | None, str]:
    """(DER bytes or None for text, how it was encoded)."""
    stripped = data.strip()
    if stripped[:1] == b"\x30":
        return data, "DER"
    if pem.detect(stripped):
        return stripped, "PEM"
    text = stripped.decode("latin-1")
    if "message=" in text:
        value = query_parameter(text, "message") or ""
        if "operation=PKIOperation" not in text:
            return None, "GET query"
        return decode_get_message(value), "GET message"
    if _BASE64_TEXT.match(stripped) and len(stripped) >= 64:
        try:
            der = decode_get_message(text)
        except ParseError:
            der = b""
        if der[:1] == b"\x30":
            return der, "base64"
    return None, "text"


def inspect_payload(
    data: bytes,
    *,
    keys: Sequence[PrivateKey] = (),
    certificates: Sequence[Certificate] = (),
    passwords: Sequence[bytes] = (),
    backend: CryptoBackend | str | None = None,
) -> Inspection:
    """Describe ``data``; ParseError (or another ScepError) when it is no SCEP payload.

    ``keys`` (see `pyscep.load_private_key`) are tried on every key-transport
    and key-agreement recipient of an envelope, ``passwords`` on a password
    recipient of a bare EnvelopedData; ``certificates`` are trusted as signers.
    """
    der, encoding = _to_der(data)
    if der is None:
        if encoding == "GET query":
            raise ParseError("a GET request without a PKIOperation message")
        caps = CACaps.parse(data)
        if caps.keywords and not caps.known:
            raise ParseError("not a SCEP payload (no known GetCACaps keyword either)")
        return Inspection(
            "GetCACaps",
            {
                "caps": list(caps.keywords),
                "trailing_newline": caps.trailing_newline,
                "line_separator": caps.line_separator,
            },
        )
    if encoding == "PEM":
        return _ca_inspection(Certificate.load_all(der), "PEM certificates")
    prescan(der)
    content_type = _content_type(der)
    if content_type in ("enveloped_data", "authenticated_enveloped_data"):
        return _inspect_envelope(der, keys, passwords, certificates, get_backend(backend))
    try:
        signed = parse_signed_data(der)
    except ParseError:
        certificate = Certificate.load(der)  # raises ParseError if not a certificate either
        return _ca_inspection((certificate,), "single DER X.509 certificate")
    if not signed.signer_infos:
        return _ca_inspection(
            parse_certs_only(der).certificates, "degenerate certs-only SignedData"
        )
    if "message_type" not in signed.signer_infos[0].signed_attr_types:
        next_ca = _certs_only(signed.content)
        if next_ca is not None:
            return _inspect_next_ca(signed, next_ca, certificates, get_backend(backend))
        if not _SCEP_ATTRIBUTES.intersection(signed.signer_infos[0].signed_attr_types):
            return _inspect_signed(signed, der, certificates, get_backend(backend))
    return _inspect_message(der, keys, passwords, certificates, get_backend(backend))


#: The signed attributes that make a SignedData a pkiMessage (RFC 8894 section 3.2.1).
_SCEP_ATTRIBUTES = frozenset(
    {
        "message_type",
        "pki_status",
        "fail_info",
        "sender_nonce",
        "recipient_nonce",
        "transaction_id",
        "fail_info_text",
    }
)


def _signature_algorithm_name(oid: str, name: str) -> str:
    """ML-DSA and the algorithms pyscep only names, by name; others as asn1crypto says."""
    return PostQuantumOID.ML_DSA.get(oid) or PostQuantumOID.REPORTED_ONLY.get(oid) or name


def _named_only(what: str, oid: str) -> list[str]:
    """The ``named-only-algorithm`` finding for ``oid``, when pyscep only names it."""
    name = PostQuantumOID.REPORTED_ONLY.get(oid)
    if name is None:
        return []
    detail = f"{what} {name} ({oid}): named, not implemented"
    return [str(Finding(FindingCode.NAMED_ONLY_ALGORITHM, detail))]


def _inspect_signed(
    signed: ParsedSignedData,
    der: bytes,
    certificates: Sequence[Certificate],
    backend: CryptoBackend,
) -> Inspection:
    """A bare SignedData (no pkiMessage): its signer and content, verified against the
    certificates given and those it carries, with or without signed attributes."""
    info = signed.signer_infos[0]
    known = [*certificates, *signed.certificates]
    errors: list[str] = []
    signer: Certificate | None = next((c for c in known if info.names(c)), None)
    verified = False
    try:
        result = verify_signed_data(
            signed,
            backend=backend,
            algorithms=LEGACY,
            certificates=certificates,
            require_signed_attributes=False,
        )
        signer, verified = result.signer_certificate, True
    except ScepError as exc:
        errors.append(f"verification failed: {exc}")
    findings = [str(f) for f in signed.findings]
    findings += _named_only("signature algorithm", info.signature_algorithm_oid)
    for certificate in signed.certificates:
        findings += _named_only("certificate key", _key_oid(certificate))
    content = signed.content
    description: dict[str, Any] = {
        "payload": "CMS SignedData",
        "version": signed.version,
        "content_type": signed.content_type,
        "content_length": None if content is None else len(content),
        "content_sha256": None if content is None else hashlib.sha256(content).hexdigest(),
        "digestAlgorithm": info.digest_algorithm,
        "signatureAlgorithm": _signature_algorithm_name(
            info.signature_algorithm_oid, info.signature_algorithm
        ),
        "signatureAlgorithm_oid": info.signature_algorithm_oid,
        "signed_attributes": list(info.signed_attr_types)
        if info.signed_attrs_der is not None
        else None,
        "certificates": [describe_certificate(c) for c in signed.certificates],
        "signer_certificate": describe_certificate(signer) if signer else None,
        "sha256": hashlib.sha256(der).hexdigest(),
        "verified": verified,
    }
    return Inspection("SignedData", description, tuple(findings), tuple(errors))


def _key_oid(certificate: Certificate) -> str:
    """The dotted OID of the certificate's key algorithm (named-only ones keep it)."""
    key = certificate.public_key
    if key.parameter_set is not None:
        return key.parameter_set.oid
    return _NAMED_ONLY_OIDS.get(key.algorithm, key.algorithm)


#: The algorithms pyscep only names, by name: their OIDs.
_NAMED_ONLY_OIDS = {name: oid for oid, name in PostQuantumOID.REPORTED_ONLY.items()}


def _certs_only(content: bytes | None) -> CertsOnly | None:
    """``content`` as a degenerate certs-only SignedData (a GetNextCACert body), or None."""
    if content is None:
        return None
    try:
        return parse_certs_only(content)
    except ParseError:
        return None


def _inspect_next_ca(
    signed: ParsedSignedData,
    next_ca: CertsOnly,
    certificates: Sequence[Certificate],
    backend: CryptoBackend,
) -> Inspection:
    """A GetNextCACert body: the next CA's certificates, signed by the current CA."""
    errors: list[str] = []
    signer = None
    try:
        verified = verify_signed_data(
            signed, backend=backend, algorithms=LEGACY, certificates=certificates
        )
        signer = describe_certificate(verified.signer_certificate)
    except ScepError as exc:
        errors.append(f"verification failed: {exc}")
    return Inspection(
        "GetNextCACert",
        {
            "next_ca_certificates": [describe_certificate(c) for c in next_ca.certificates],
            "signed_by": signer,
            "payload": "SignedData over a degenerate certs-only SignedData",
        },
        tuple(str(f) for f in signed.findings),
        tuple(errors),
    )


def _content_type(der: bytes) -> str | None:
    try:
        return str(cms.ContentInfo.load(der)["content_type"].native)
    except Exception:  # not a ContentInfo: the other readers say what it is
        return None


def _inspect_envelope(
    der: bytes,
    keys: Sequence[PrivateKey],
    passwords: Sequence[bytes],
    known: Sequence[Certificate],
    backend: CryptoBackend,
) -> Inspection:
    """A bare EnvelopedData or AuthEnvelopedData: its recipients, and what a key or
    password opens (an AuthEnvelopedData's tag checked)."""
    authenticated = _content_type(der) == "authenticated_enveloped_data"
    envelope = parse_auth_enveloped_data(der) if authenticated else parse_enveloped_data(der)
    kind = "AuthEnvelopedData" if authenticated else "EnvelopedData"
    description: dict[str, Any] = {
        "payload": f"CMS {kind}",
        "version": envelope.version,
        "contentEncryptionAlgorithm": envelope.cipher_name,
        "contentEncryptionAlgorithm_oid": envelope.cipher_oid,
        "recipients": [_describe_any_recipient(r, known) for r in envelope.recipients],
        "sha256": hashlib.sha256(der).hexdigest(),
    }
    if authenticated:
        description["tag_length"] = envelope.tag_length
        description["auth_attributes"] = envelope.auth_attrs_der is not None
    findings = [
        finding
        for recipient in envelope.recipients
        if recipient.kem is not None
        for finding in _named_only("KEM", recipient.kem.kem)
    ]
    errors: list[str] = []
    opened = _open_envelope(envelope, keys, passwords, backend)
    if opened is not None:
        plaintext, recipient = opened
        description["decrypted_with"] = _describe_any_recipient(recipient, known)
        description["plaintext_sha256"] = hashlib.sha256(plaintext).hexdigest()
        description["plaintext_length"] = len(plaintext)
    elif keys or passwords:
        errors.append("no --key or --password opens any recipient of the envelope")
    return Inspection(kind, description, tuple(findings), tuple(errors))


def _open_envelope(
    envelope: ParsedEnvelope,
    keys: Sequence[PrivateKey],
    passwords: Sequence[bytes],
    backend: CryptoBackend,
) -> tuple[bytes, RecipientView] | None:
    for key in keys:
        try:
            return open_with_key(envelope, key, backend=backend, algorithms=LEGACY)
        except ScepError:
            continue
    password_recipient = next((r for r in envelope.recipients if r.kind == "pwri"), None)
    for password in passwords if password_recipient is not None else ():
        try:
            plaintext = open_with_password(
                envelope, password, backend=backend, algorithms=LEGACY, diagnostic=True
            )
        except ScepError:
            continue
        assert password_recipient is not None
        return plaintext, password_recipient
    return None


def _describe_any_recipient(
    recipient: RecipientView, known: Sequence[Certificate]
) -> dict[str, Any]:
    """type (ktri, kari, kemri, pwri...), its algorithms, and whom it names."""
    described: dict[str, Any] = {
        "type": recipient.kind,
        "keyEncryptionAlgorithm": recipient.key_encryption_algorithm,
        "rid": _describe_recipient(recipient, known),
    }
    if recipient.agreement is not None:
        described["kdf_digest"] = recipient.agreement.kdf_digest
        described["key_wrap_oid"] = recipient.agreement.wrap_oid
        described["ukm_present"] = recipient.agreement.ukm is not None
    if recipient.kem is not None:
        described["kem"] = PostQuantumOID.REPORTED_ONLY.get(recipient.kem.kem, recipient.kem.kem)
        described["kdf"] = recipient.kem.kdf_digest and f"hkdf_{recipient.kem.kdf_digest}"
        described["kdf_oid"] = recipient.kem.kdf_oid
        described["key_wrap_oid"] = recipient.kem.wrap_oid
        described["ukm_present"] = recipient.kem.ukm is not None
    if recipient.password is not None:
        described["pbkdf2_prf"] = recipient.password.prf
        described["pbkdf2_iterations"] = recipient.password.iterations
        described["kek_cipher"] = recipient.password.kek_cipher
    if recipient.unsupported is not None:
        described["unsupported"] = recipient.unsupported
    return described


def _ca_inspection(certificates: Sequence[Certificate], payload: str) -> Inspection:
    return Inspection(
        "GetCACert",
        {"ca_certificates": [describe_certificate(c) for c in certificates], "payload": payload},
    )


def _nonce(value: bytes | None) -> str | None:
    return None if value is None else value.hex().upper()


def _inspect_message(
    der: bytes,
    keys: Sequence[PrivateKey],
    passwords: Sequence[bytes],
    certificates: Sequence[Certificate],
    backend: CryptoBackend,
) -> Inspection:
    message = parse_pki_message(der)
    known = [*certificates, *message.certificates]
    errors: list[str] = []
    verified: PKIMessage | None = None
    try:
        if message.message_type is MessageType.CERT_REP:
            verified = verify_cert_rep(
                message, ca_certificates=known, algorithms=LEGACY, backend=backend
            )
        else:
            verified = verify_request(
                message, certificates=known, algorithms=LEGACY, backend=backend
            )
    except ScepError as exc:
        errors.append(f"verification failed: {exc}")
    description = _describe_message(message, verified, known)
    if verified is not None and verified.envelope is not None:
        opened = _decrypt(verified, keys, passwords, backend, errors)
        if opened is not None:
            content, recipient = opened
            description["inner"] = describe_content(content)
            # A password recipient names no certificate: described by its algorithms.
            description["decrypted_with"] = _describe_recipient(
                recipient, known
            ) or _describe_any_recipient(recipient, known)
            _name_the_recipient(description, known)
    return Inspection(
        message.message_type.rfc_name,
        description,
        tuple(str(f) for f in message.findings),
        tuple(errors),
    )


def _describe_message(
    message: UnverifiedPKIMessage, verified: PKIMessage | None, known: Sequence[Certificate]
) -> dict[str, Any]:
    signer = verified.signer_certificate if verified is not None else None
    if signer is None:
        signer = message.claimed_signer(known)
    envelope = message.envelope
    ktri: RecipientView | None = None
    if envelope is not None:
        # The recipient a key opens: key transport, or key agreement for an EC key.
        ktri = next((r for r in envelope.recipients if r.kind in ("ktri", "kari")), None)
    recipient = None
    if ktri is not None:
        recipient = _describe_recipient(ktri, known)
    status, fail = message.pki_status, message.fail_info
    return {
        "messageType": message.message_type.wire,
        "messageType_name": message.message_type.display_name,
        "transactionID": message.transaction_id,
        "senderNonce": _nonce(message.sender_nonce),
        "recipientNonce": _nonce(message.recipient_nonce),
        "pkiStatus": status.wire if status is not None else None,
        "pkiStatus_name": status.name if status is not None else None,
        "failInfo": fail.wire if fail is not None else None,
        "failInfo_name": fail.rfc_name if fail is not None else None,
        "failInfoText": message.fail_info_text,
        "digestAlgorithm": message.digest_algorithm,
        "signatureAlgorithm": message.signature_algorithm,
        "signatureAlgorithm_oid": message.signature_algorithm_oid,
        "signatureAlgorithm_pss_params": _pss(message),
        "contentEncryptionAlgorithm": envelope.cipher_name if envelope else None,
        "contentEncryptionAlgorithm_oid": envelope.cipher_oid if envelope else None,
        "keyEncryptionAlgorithm": ktri.key_encryption_algorithm if ktri else None,
        "signer_certificate": describe_certificate(signer) if signer else None,
        "envelope_recipient": recipient,
        "sha256": hashlib.sha256(message.der).hexdigest(),
        "verified": verified is not None,
    }


def _describe_recipient(
    recipient: RecipientView, known: Sequence[Certificate]
) -> dict[str, Any] | None:
    issuer_der, serial = recipient.issuer_der, recipient.serial
    if issuer_der is None or serial is None:
        return None
    match = next((c for c in known if c.matches_issuer_and_serial(issuer_der, serial)), None)
    return {
        "issuer": name_text(issuer_der),
        "serial": serial,
        "serial_hex": format(serial, "X"),
        "recipient_cert_subject": match.subject if match else None,
    }


def _pss(message: UnverifiedPKIMessage) -> dict[str, Any] | None:
    params = message.pss_parameters
    if params is None:
        return None
    return {
        "hash_algorithm": params.hash_algorithm,
        "mgf1_hash_algorithm": params.mgf1_hash_algorithm,
        "salt_length": params.salt_length,
    }


def _decrypt(
    message: PKIMessage,
    keys: Sequence[PrivateKey],
    passwords: Sequence[bytes],
    backend: CryptoBackend,
    errors: list[str],
) -> tuple[DecryptedContent, RecipientView] | None:
    """Try each key on every recipient, then each password (a diagnostic: an oracle is fine)."""
    envelope = message.envelope
    if envelope is None or not (keys or passwords):
        return None
    opened = _open_envelope(envelope, keys, passwords, backend)
    if opened is None:
        errors.append("no --key or --password opens any recipient of the envelope")
        return None
    plaintext, recipient = opened
    try:
        return content_of(message.message_type, plaintext, backend, LEGACY), recipient
    except ScepError as exc:
        errors.append(f"decrypted, but the content is bad: {exc}")
        return None


def _name_the_recipient(description: dict[str, Any], known: Sequence[Certificate]) -> None:
    """Name a recipient whose certificate nobody gave (a CertRep goes to the requester's
    certificate, which it does not carry), and say how the name was inferred.

    A RecipientInfo names its certificate by issuer and serial. When the issuer
    is none of the known CAs, the certificate is the requester's self-signed
    one, whose subject is that issuer name. When a known CA issued it (a
    renewal signed with the existing certificate), its subject is in no byte
    of the CertRep: give that certificate with ``--cert`` to see it.
    """
    recipient = description.get("envelope_recipient")
    if not recipient:
        return
    if recipient["recipient_cert_subject"] is not None:
        description["recipient_cert_subject_source"] = "certificate"
        return
    if not any(c.is_ca and c.subject == recipient["issuer"] for c in known):
        recipient["recipient_cert_subject"] = recipient["issuer"]
        description["recipient_cert_subject_source"] = "self-signed: the issuer name"
    else:
        description["recipient_cert_subject_source"] = (
            "unknown: a certificate our CA issued; give it with --cert"
        )


def describe_content(
    content: CertificationRequest | IssuerAndSubject | IssuerAndSerial | CertsOnly,
) -> dict[str, Any]:
    """The manifest's ``inner`` form of decrypted content."""
    if isinstance(content, CertificationRequest):
        described: dict[str, Any] = {
            "type": "PKCS#10 CertificationRequest",
            "subject": content.subject,
            "public_key": content.public_key_description,
            "signature_algorithm": content.signature_algorithm,
            "attributes": list(content.attribute_types),
            "challengePassword": content.challenge_password,
            "challengePassword_asn1_type": content.challenge_password_type,
        }
        if content.requested_extensions:
            described["extension_request"] = [dict(e) for e in content.requested_extensions]
        if content.requested_sids:
            # What a server must never copy (docs/windows.md): shown where nobody misses it.
            described["requested_sids"] = list(content.requested_sids)
        return described
    if isinstance(content, IssuerAndSubject):
        return {"type": "IssuerAndSubject", "issuer": content.issuer, "subject": content.subject}
    if isinstance(content, IssuerAndSerial):
        return {
            "type": "IssuerAndSerialNumber",
            "issuer": content.issuer,
            "serial": content.serial_number,
        }
    return {
        "type": "degenerate certs-only SignedData",
        "certificates": [describe_certificate(c) for c in content.certificates],
        "crls": len(content.crls),
        "signer_infos": 0,
    }
