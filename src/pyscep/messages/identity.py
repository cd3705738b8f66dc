"""What a client needs before its first request, and a CA to answer it: built with a key object.

- `build_csr`: a PKCS#10 request with challengePassword, subjectAltNames and
  other extensions, signed by a `PrivateKey`;
- `self_signed_signer`: the throw-away self-signed certificate RFC 8894
  section 2.3 has a client sign its first request with, as a `Signer`;
- `issue_certificate`: a certificate for a CSR's key, signed by a CA's
  `Signer` (so the CA key may live in an HSM).

Keys are used through the crypto seam only (`pyscep.load_private_key`
accepts PEM, DER or a pyca/cryptography key). Time is a parameter.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from asn1crypto import algos, core, csr, x509
from cryptography import x509 as cx509

from pyscep import _der_writer as w
from pyscep._boundary import field
from pyscep._der import der_length
from pyscep._spki import PublicKeyInfo
from pyscep.algorithms import DigestAlgorithm, SignatureScheme
from pyscep.certificate import Certificate
from pyscep.crypto import KeyPair, PrivateKey, Signer
from pyscep.crypto.signed_object import ML_DSA_ALGORITHM_IDENTIFIERS
from pyscep.errors import LocalProtocolError, ParseError
from pyscep.messages.content import CertificationRequest
from pyscep.oids import PostQuantumOID
from pyscep.sid import (
    SID_EXTENSION_OID,
    VouchedSid,
    sid_extension_value,
    sid_of_subject_alt_name,
    sid_of_uri,
    sid_uri,
)

__all__ = [
    "END_ENTITY_KEY_USAGES",
    "SUBJECT_ALT_NAME_KINDS",
    "KeyToCertify",
    "build_csr",
    "extended_key_purpose",
    "issue_certificate",
    "self_signed_certificate",
    "self_signed_signer",
    "writable_subject_alt_name",
]

#: subjectAltName prefixes, as `CertificationRequest.subject_alt_names` reports them.
#: The subjectAltName kinds `build_csr` and `issue_certificate` write (``kind:value``).
SUBJECT_ALT_NAME_KINDS = ("dns_name", "rfc822_name", "uniform_resource_identifier", "ip_address")
#: keyUsage's named bits, in bit order (RFC 5280 section 4.2.1.3), as asn1crypto names them.
_KEY_USAGE_BITS: tuple[str, ...] = tuple(
    x509.KeyUsage._map[bit] for bit in sorted(x509.KeyUsage._map)
)
#: The keyUsage bits `issue_certificate` may give an end entity (not a CA's keyCertSign
#: or cRLSign), as asn1crypto names them.
END_ENTITY_KEY_USAGES = tuple(
    bit for bit in _KEY_USAGE_BITS if bit not in ("key_cert_sign", "crl_sign")
)
#: The keyUsage bits a key type cannot have: an EC key encrypts nothing (RFC 5480
#: section 3), an RSA key agrees no key, an Ed25519 or ML-DSA key only signs (RFC 8410
#: section 5, RFC 9881 section 5), an ML-KEM key only enciphers keys (RFC 9935 section 5).
_SIGNATURE_ONLY_USAGES = frozenset(
    {"key_encipherment", "data_encipherment", "key_agreement", "encipher_only", "decipher_only"}
)
_NOT_FOR_KEY_TYPE = {
    **dict.fromkeys(("ml_dsa_44", "ml_dsa_65", "ml_dsa_87"), _SIGNATURE_ONLY_USAGES),
    # RFC 9935 section 5: keyEncipherment is the only usage of an ML-KEM key.
    **{
        name: frozenset(END_ENTITY_KEY_USAGES) - {"key_encipherment"}
        for name in ("ml_kem_512", "ml_kem_768", "ml_kem_1024")
    },
    "ec": frozenset({"key_encipherment", "data_encipherment"}),
    "rsa": frozenset({"key_agreement", "encipher_only", "decipher_only"}),
    "ed25519": frozenset(
        {"key_encipherment", "data_encipherment", "key_agreement", "encipher_only", "decipher_only"}
    ),
}
_DOTTED = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")
_PRINTABLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")


def _name(subject: str | bytes) -> x509.Name:
    """An RFC 4514 string (``CN=device-7,O=Example``) or DER Name bytes."""
    if isinstance(subject, str):
        try:
            der = cx509.Name.from_rfc4514_string(subject).public_bytes()
        except ValueError as exc:
            raise LocalProtocolError(f"not an RFC 4514 name: {subject!r}") from exc
    else:
        der = bytes(subject)
    with field("Name"):
        name = x509.Name.load(der, strict=True)
        name.native  # noqa: B018 - validate
    return name


def _spki(key: PrivateKey) -> PublicKeyInfo:
    with field("subjectPublicKeyInfo"):
        spki: PublicKeyInfo = PublicKeyInfo.load(key.public_key_der, strict=True)
        return spki


def _scheme(spki: PublicKeyInfo) -> tuple[SignatureScheme, str]:
    """Signature scheme and the asn1crypto algorithm name's suffix for this key."""
    if spki.algorithm == "rsa":
        return SignatureScheme.RSA_PKCS1V15, "rsa"
    if spki.algorithm == "ec":
        return SignatureScheme.ECDSA, "ecdsa"
    if spki.algorithm in ("ed25519", *PostQuantumOID.ML_DSA.values()):
        return SignatureScheme(spki.algorithm), spki.algorithm
    raise LocalProtocolError(f"cannot sign with a {spki.algorithm} key")


def _algorithm(spki: PublicKeyInfo, digest: DigestAlgorithm) -> bytes:
    """The DER signature AlgorithmIdentifier this key signs with."""
    scheme, suffix = _scheme(spki)
    if scheme in ML_DSA_ALGORITHM_IDENTIFIERS:
        return ML_DSA_ALGORITHM_IDENTIFIERS[scheme]
    # Ed25519 names no hash: the AlgorithmIdentifier is id-Ed25519 alone (RFC 8410).
    return _algorithm_der(
        suffix if scheme is SignatureScheme.ED25519 else f"{digest.value}_{suffix}"
    )


def _sign(
    signer: PrivateKey | Signer, spki: PublicKeyInfo, tbs: bytes, digest: DigestAlgorithm
) -> tuple[bytes, bytes]:
    """(DER AlgorithmIdentifier, signature) of ``tbs``."""
    return _algorithm(spki, digest), signer.sign(tbs, digest, _scheme(spki)[0])


def _general_name(entry: str) -> x509.GeneralName:
    kind, sep, value = entry.partition(":")
    if not sep or kind not in SUBJECT_ALT_NAME_KINDS:
        kinds = " / ".join(k + ":..." for k in SUBJECT_ALT_NAME_KINDS)
        raise LocalProtocolError(f"subjectAltName {entry!r}: write {kinds}")
    try:
        name = x509.GeneralName(name=kind, value=value)
        name.dump()  # an address that is none raises here, not in the middle of signing
    except (ValueError, TypeError, OSError):
        raise LocalProtocolError(f"subjectAltName {entry!r} cannot be written") from None
    return name


def carries_sid(entry: str) -> bool:
    """Might the subjectAltName ``entry`` carry a Windows SID, as given or as it would be
    written (a URI writer drops or re-encodes characters)? `issue_certificate` refuses
    such a name unless it comes as ``vouched_sid``; a server leaves it out beforehand."""
    if sid_of_subject_alt_name(entry) is not None:
        return True
    try:
        general = _general_name(entry)
    except LocalProtocolError:
        return False  # not written at all
    written = bytes(general.chosen.contents or b"").decode("latin-1")
    return general.name == "uniform_resource_identifier" and sid_of_uri(written) is not None


def writable_subject_alt_name(entry: str) -> bool:
    """Can `build_csr` and `issue_certificate` write ``entry`` (``kind:value``)?"""
    try:
        _general_name(entry)
    except LocalProtocolError:
        return False
    return True


def build_csr(
    key: PrivateKey,
    subject: str | bytes,
    *,
    challenge_password: str | None = None,
    subject_alt_names: Sequence[str] = (),
    extensions: Sequence[tuple[str, bool, bytes]] = (),
    digest: DigestAlgorithm = DigestAlgorithm.SHA256,
) -> CertificationRequest:
    """A PKCS#10 request for ``key``'s public key, signed by ``key``.

    ``subject`` is an RFC 4514 string or DER. ``challenge_password`` is sent as
    PrintableString when it fits (what Windows and most CAs expect), else
    UTF8String. ``subject_alt_names`` are ``dns_name:host.example``,
    ``rfc822_name:...``, ``uniform_resource_identifier:...`` or
    ``ip_address:...``; ``extensions`` adds (dotted OID, critical, DER value).
    """
    spki = _spki(key)
    attributes: list[dict[str, Any]] = []
    if challenge_password is not None:
        kind = "printable_string" if set(challenge_password) <= _PRINTABLE else "utf8_string"
        attributes.append(
            {
                "type": "challenge_password",
                "values": [x509.DirectoryString(name=kind, value=challenge_password)],
            }
        )
    requested: list[bytes] = []
    if subject_alt_names:
        san = x509.Extension(
            {
                "extn_id": "subject_alt_name",
                "critical": False,
                "extn_value": x509.GeneralNames([_general_name(e) for e in subject_alt_names]),
            }
        )
        requested.append(bytes(san.dump()))
    for oid, critical, value in extensions:
        # Assembled as DER: asn1crypto would re-type the value of an OID it knows.
        parts = core.ObjectIdentifier(oid).dump()
        if critical:
            parts += core.Boolean(True).dump()
        parts += core.OctetString(value).dump()
        requested.append(_tlv(0x30, parts))
    if requested:
        values = csr.SetOfExtensions.load(_tlv(0x31, _tlv(0x30, b"".join(requested))))
        attributes.append({"type": "extension_request", "values": values})
    info = csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": _name(subject),
            "subject_pk_info": spki,
            "attributes": attributes,
        }
    )
    tbs = bytes(info.dump())
    algorithm, signature = _sign(key, spki, tbs, digest)
    request = csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": algos.SignedDigestAlgorithm.load(algorithm),
            "signature": signature,
        }
    )
    return CertificationRequest.load(bytes(request.dump()))


def _tlv(tag: int, contents: bytes) -> bytes:
    return bytes([tag]) + der_length(len(contents)) + contents


#: The years RFC 5280 section 4.1.2.5 writes as UTCTime (GeneralizedTime the others).
_UTC_TIME_YEARS = range(1950, 2050)


def _utc(moment: datetime) -> x509.Time:
    """An asn1crypto Time (the CRL builder's): UTCTime through 2049, in seconds."""
    if moment.tzinfo is None:
        raise LocalProtocolError("times must be timezone-aware")
    moment = moment.astimezone(timezone.utc).replace(microsecond=0)
    if moment.year in _UTC_TIME_YEARS:
        return x509.Time(name="utc_time", value=moment)
    return x509.Time(name="general_time", value=moment)


def _certificate(
    *,
    issuer_key: PrivateKey | Signer,
    issuer_spki: PublicKeyInfo,
    issuer_name: x509.Name,
    subject_name: x509.Name,
    subject_spki: PublicKeyInfo,
    serial_number: int,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    key_usage: set[str],
    digest: DigestAlgorithm,
    subject_alt_names: Sequence[x509.GeneralName] = (),
    crl_urls: Sequence[str] = (),
    extended_key_usage: Sequence[str] = (),
    access: Sequence[tuple[str, str]] = (),
    sid: str | None = None,
) -> Certificate:
    algorithm = _algorithm(issuer_spki, digest)
    tbs = tbs_certificate(
        algorithm=algorithm,
        issuer_name=bytes(issuer_name.dump()),
        subject_name=bytes(subject_name.dump()),
        subject_spki=bytes(subject_spki.dump()),
        serial_number=serial_number,
        not_before=not_before,
        not_after=not_after,
        extensions=_extensions(
            subject_key_id=_key_identifier(subject_spki),
            authority_key_id=_key_identifier(issuer_spki),
            ca=ca,
            key_usage=key_usage,
            subject_alt_names=subject_alt_names,
            crl_urls=crl_urls,
            extended_key_usage=extended_key_usage,
            access=access,
            sid=sid,
        ),
    )
    _, signature = _sign(issuer_key, issuer_spki, tbs, digest)
    return Certificate.load(w.sequence(tbs, algorithm, w.tlv(0x03, b"\x00" + signature)))


@lru_cache(maxsize=32)
def _algorithm_der(name: str) -> bytes:
    """A signature AlgorithmIdentifier, as asn1crypto writes it (NULL parameters for RSA)."""
    return bytes(algos.SignedDigestAlgorithm({"algorithm": name}).dump())


def _time(moment: datetime) -> bytes:
    """RFC 5280 section 4.1.2.5: UTCTime from 1950 through 2049, GeneralizedTime before
    and after, in seconds."""
    if moment.tzinfo is None:
        raise LocalProtocolError("times must be timezone-aware")
    moment = moment.astimezone(timezone.utc)
    if moment.year in _UTC_TIME_YEARS:
        return w.tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())
    return w.tlv(0x18, f"{moment.year:04d}{moment.strftime('%m%d%H%M%S')}Z".encode())


def tbs_certificate(
    *,
    algorithm: bytes,
    issuer_name: bytes,
    subject_name: bytes,
    subject_spki: bytes,
    serial_number: int,
    not_before: datetime,
    not_after: datetime,
    extensions: Sequence[bytes],
) -> bytes:
    """A v3 TBSCertificate from encoded pieces (written by `pyscep._der_writer`; asn1crypto
    is the oracle of tests/test_der_writer.py, byte for byte)."""
    return w.sequence(
        b"\xa0\x03\x02\x01\x02",  # [0] EXPLICIT version v3
        w.integer(serial_number),
        algorithm,
        issuer_name,
        w.sequence(_time(not_before), _time(not_after)),
        subject_name,
        subject_spki,
        w.context(3, w.sequence(*extensions)),
    )


def _named_bits(names: set[str]) -> bytes:
    """A named BIT STRING's content: trailing zero bits dropped (X.690 11.2.2)."""
    bits = [name in names for name in _KEY_USAGE_BITS]
    while bits and not bits[-1]:
        bits.pop()
    octets = bytearray((len(bits) + 7) // 8)
    for index, on in enumerate(bits):
        if on:
            octets[index // 8] |= 0x80 >> (index % 8)
    return bytes(((-len(bits)) % 8,)) + bytes(octets)


def _extension(oid: str, value: bytes, *, critical: bool = False) -> bytes:
    flag = b"\x01\x01\xff" if critical else b""  # DER leaves out the default FALSE
    return w.sequence(w.oid(oid), flag, w.octet_string(value))


def _uri(url: str) -> bytes:
    return bytes(x509.GeneralName(name="uniform_resource_identifier", value=url).dump())


def _extensions(
    *,
    subject_key_id: bytes,
    authority_key_id: bytes,
    ca: bool,
    key_usage: set[str],
    subject_alt_names: Sequence[x509.GeneralName],
    crl_urls: Sequence[str],
    extended_key_usage: Sequence[str],
    access: Sequence[tuple[str, str]],
    sid: str | None = None,
) -> list[bytes]:
    """The extensions `issue_certificate` and `self_signed_certificate` write, in order."""
    constraints = w.sequence(b"\x01\x01\xff") if ca else w.sequence()
    written = [
        _extension("2.5.29.19", constraints, critical=True),
        _extension("2.5.29.15", w.tlv(0x03, _named_bits(key_usage)), critical=True),
        _extension("2.5.29.14", w.octet_string(subject_key_id)),
        _extension("2.5.29.35", w.sequence(w.tlv(0x80, authority_key_id))),
    ]
    if subject_alt_names:
        names = b"".join(bytes(name.dump()) for name in subject_alt_names)
        written.append(_extension("2.5.29.17", w.tlv(0x30, names)))
    if crl_urls:
        full_name = w.context(0, b"".join(_uri(url) for url in crl_urls))
        written.append(_extension("2.5.29.31", w.sequence(w.sequence(w.context(0, full_name)))))
    if extended_key_usage:
        purposes = (_PURPOSE_OIDS.get(purpose, purpose) for purpose in extended_key_usage)
        written.append(_extension("2.5.29.37", w.sequence(*(w.oid(p) for p in purposes))))
    if access:
        methods = {"ca_issuers": "1.3.6.1.5.5.7.48.2", "ocsp": "1.3.6.1.5.5.7.48.1"}
        descriptions = (w.sequence(w.oid(methods[m]), _uri(url)) for m, url in access)
        written.append(_extension("1.3.6.1.5.5.7.1.1", w.sequence(*descriptions)))
    if sid is not None:
        written.append(_extension(SID_EXTENSION_OID, sid_extension_value(sid)))
    return written


#: extendedKeyUsage purposes by name (asn1crypto's registry, reversed).
_PURPOSE_OIDS = {name: dotted for dotted, name in x509.KeyPurposeId._map.items()}


def _key_identifier(spki: PublicKeyInfo) -> bytes:
    """RFC 5280 method 1: SHA-1 of the subjectPublicKey bits (without the unused-bits octet)."""
    bits = bytes(spki["public_key"].contents)[1:]
    return hashlib.sha1(bits).digest()  # noqa: S324 - the RFC's method, not a security use


def _serial(subject_spki: PublicKeyInfo, moment: datetime) -> int:
    """A positive 64-bit serial derived from the key and the time (deterministic)."""
    seed = bytes(subject_spki.dump()) + moment.isoformat().encode()
    return int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") | 1


def self_signed_certificate(
    key: PrivateKey,
    subject: str | bytes,
    *,
    now: datetime,
    days: int = 7,
    ca: bool = False,
) -> Certificate:
    """A self-signed certificate for ``key``.

    The default is what RFC 8894 section 2.3 asks of a client without a
    certificate (short-lived; keyUsage digitalSignature and keyEncipherment,
    so the CertRep can be encrypted to it). ``ca=True`` makes a CA
    certificate (keyCertSign, cRLSign, digitalSignature).
    """
    spki = _spki(key)
    name = _name(subject)
    if ca:
        usage = {"key_cert_sign", "crl_sign", "digital_signature"}
    elif spki.algorithm == "rsa":
        usage = {"digital_signature", "key_encipherment"}
    elif spki.algorithm == "ec":
        usage = {"digital_signature", "key_agreement"}  # the CertRep comes by ECDH
    else:
        usage = {"digital_signature"}
    return _certificate(
        issuer_key=key,
        issuer_spki=spki,
        issuer_name=name,
        subject_name=name,
        subject_spki=spki,
        serial_number=_serial(spki, now),
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=days),
        ca=ca,
        key_usage=usage,
        digest=DigestAlgorithm.SHA256,
    )


def self_signed_signer(
    key: PrivateKey, subject: str | bytes, *, now: datetime, days: int = 7
) -> KeyPair:
    """`self_signed_certificate` with its key: the Signer (and Decrypter) of a first request."""
    return KeyPair(key, self_signed_certificate(key, subject, now=now, days=days))


@dataclass(frozen=True)
class KeyToCertify:
    """A public key and subject to certify without a request: a key that cannot sign one.

    An ML-KEM key (an RA's request-decryption key, say) only decapsulates, so no
    PKCS#10 request can prove its possession (RFC 9935 section 6); the caller vouches
    for the key by other means, for instance by having made it.
    """

    public_key_der: bytes
    subject_der: bytes

    @classmethod
    def of(cls, public_key_der: bytes, subject: str | bytes) -> KeyToCertify:
        """From a DER SubjectPublicKeyInfo and an RFC 4514 subject (or DER Name)."""
        return cls(bytes(public_key_der), bytes(_name(subject).dump()))


def issue_certificate(
    ca: Signer,
    request: CertificationRequest | KeyToCertify,
    *,
    now: datetime,
    days: int = 365,
    serial_number: int | None = None,
    subject: str | bytes | None = None,
    subject_alt_names: Sequence[str] = (),
    crl_urls: Sequence[str] = (),
    key_usage: Collection[str] | None = None,
    extended_key_usage: Sequence[str] = (),
    ca_issuers_urls: Sequence[str] = (),
    ocsp_urls: Sequence[str] = (),
    vouched_sid: VouchedSid | None = None,
) -> Certificate:
    """A certificate for ``request``'s key and subject (or ``subject``), signed by ``ca``.

    End-entity: keyUsage ``key_usage`` (`END_ENTITY_KEY_USAGES` names; the bits the
    key's type cannot have are left out), by default digitalSignature and
    keyEncipherment for RSA (keyAgreement for EC). The
    request's extensions are not copied: what to grant is the CA's decision,
    for instance the ``subject_alt_names`` it grants (written as for
    `build_csr`) and the ``extended_key_usage`` (purpose names such as
    ``client_auth``, or dotted OIDs). ``crl_urls`` go in a cRLDistributionPoints
    extension, one distribution point with these full names (where relying parties
    fetch the CRL); ``ca_issuers_urls`` and ``ocsp_urls`` in authorityInfoAccess.

    A Windows account SID goes in only as ``vouched_sid``, written in both forms a
    domain controller reads (`pyscep.sid`); a SID URI among ``subject_alt_names``
    is refused (LocalProtocolError), so a SID a request asked for cannot be
    copied in by passing its names along.
    """
    general_names = [_general_name(entry) for entry in subject_alt_names]
    for entry in subject_alt_names:
        if carries_sid(entry):
            raise LocalProtocolError(
                f"subjectAltName {entry[:120]!r} carries a Windows SID: a SID reaches a"
                " certificate only as vouched_sid= (a VouchedSid, docs/security.md)"
            )
    if vouched_sid is not None:
        general_names.append(
            _general_name(f"uniform_resource_identifier:{sid_uri(vouched_sid.sid)}")
        )
    subject_spki = PublicKeyInfo.load(request.public_key_der)
    try:
        issuer_spki = PublicKeyInfo.load(ca.certificate.public_key_der, strict=True)
        issuer_name = x509.Name.load(ca.certificate.subject_der, strict=True)
    except ValueError as exc:  # pragma: no cover - a Certificate is already parsed
        raise ParseError("the CA certificate cannot be read") from exc
    if key_usage is None:
        usage = {"digital_signature"}
        if subject_spki.algorithm == "rsa":
            usage.add("key_encipherment")
        elif subject_spki.algorithm == "ec":
            usage.add("key_agreement")
        elif subject_spki.algorithm in PostQuantumOID.ML_KEM.values():
            usage = {"key_encipherment"}  # RFC 9935 section 5: the only one
    else:
        usage = set(key_usage)
        unknown = sorted(usage - set(END_ENTITY_KEY_USAGES))
        if unknown or not usage:
            raise LocalProtocolError(
                f"keyUsage {unknown or '(none)'}: an end entity's are"
                f" {', '.join(END_ENTITY_KEY_USAGES)}"
            )
        # One profile serves every key type: what this key cannot do is left out.
        usage -= _NOT_FOR_KEY_TYPE.get(subject_spki.algorithm, frozenset())
        if not usage:
            raise LocalProtocolError(
                f"keyUsage {sorted(key_usage)}: none of it is for a {subject_spki.algorithm} key"
            )
    purposes = [extended_key_purpose(purpose) for purpose in extended_key_usage]
    return _certificate(
        issuer_key=ca,
        issuer_spki=issuer_spki,
        issuer_name=issuer_name,
        subject_name=_name(subject) if subject is not None else x509.Name.load(request.subject_der),
        subject_spki=subject_spki,
        serial_number=serial_number if serial_number is not None else _serial(subject_spki, now),
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=days),
        ca=False,
        key_usage=usage,
        digest=DigestAlgorithm.SHA256,
        subject_alt_names=general_names,
        crl_urls=crl_urls,
        extended_key_usage=purposes,
        access=[("ca_issuers", url) for url in ca_issuers_urls]
        + [("ocsp", url) for url in ocsp_urls],
        sid=None if vouched_sid is None else vouched_sid.sid,
    )


def extended_key_purpose(purpose: str) -> str:
    """``purpose`` as an extendedKeyUsage writes it: a name asn1crypto knows
    (``client_auth``, ``server_auth``...) or a dotted OID; LocalProtocolError otherwise."""
    names = x509.KeyPurposeId._map
    if purpose in names.values():
        return purpose
    if _DOTTED.fullmatch(purpose):
        return str(names.get(purpose, purpose))
    raise LocalProtocolError(
        f"extendedKeyUsage {purpose!r}: a purpose name (client_auth, server_auth, ...)"
        " or a dotted OID"
    )
