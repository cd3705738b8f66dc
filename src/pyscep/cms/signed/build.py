"""SignedData built with a Signer (RFC 5652 section 5): DER, the signed attributes sorted.

Exactly the DER SET of signed attributes written is signed; the signature
algorithm spelling follows what peers accept (rsaEncryption for PKCS#1 v1.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from asn1crypto import algos, cms, core

from pyscep import _der_writer as der
from pyscep._asn1 import ScepAttribute
from pyscep._boundary import field as parse_field
from pyscep._der import read_length
from pyscep.algorithms import AlgorithmPolicy, DigestAlgorithm, SignatureScheme
from pyscep.certificate import Certificate
from pyscep.crypto import CryptoBackend, Signer
from pyscep.crypto.signed_object import ML_DSA_ALGORITHM_IDENTIFIERS
from pyscep.errors import LocalProtocolError, ParseError, UnsupportedAlgorithmError
from pyscep.oids import PostQuantumOID
from pyscep.public_key import PARAMETER_SETS

__all__ = ["build_signed_data", "default_scheme"]


def _attribute(type_name: str, value: core.Asn1Value) -> ScepAttribute:
    return ScepAttribute({"type": type_name, "values": [value]})


def _signature_algorithm(
    scheme: SignatureScheme, digest: DigestAlgorithm, *, digest_in_oid: bool = False
) -> algos.SignedDigestAlgorithm:
    if scheme is SignatureScheme.RSA_PKCS1V15:
        if digest_in_oid:
            return algos.SignedDigestAlgorithm({"algorithm": f"{digest.value}_rsa"})
        # rsaEncryption, as OpenSSL and sscep write it: strongSwan refuses the
        # shaXWithRSAEncryption spelling here ("only RSA digest encryption").
        return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"})
    if scheme is SignatureScheme.RSA_PSS:
        hash_algorithm = {"algorithm": digest.value}
        return algos.SignedDigestAlgorithm(
            {
                "algorithm": "rsassa_pss",
                "parameters": algos.RSASSAPSSParams(
                    {
                        "hash_algorithm": hash_algorithm,
                        "mask_gen_algorithm": {
                            "algorithm": "mgf1",
                            "parameters": hash_algorithm,
                        },
                        "salt_length": digest.digest_size,
                    }
                ),
            }
        )
    if scheme is SignatureScheme.ED25519:
        return algos.SignedDigestAlgorithm({"algorithm": "ed25519"})  # no parameters
    return algos.SignedDigestAlgorithm({"algorithm": f"{digest.value}_ecdsa"})


def default_scheme(certificate: Certificate) -> SignatureScheme:
    """PKCS#1 v1.5 for RSA keys, ECDSA for EC keys, Ed25519 and ML-DSA for their keys."""
    if certificate.public_key_algorithm == "ec":
        return SignatureScheme.ECDSA
    if certificate.public_key_algorithm == "ed25519":
        return SignatureScheme.ED25519
    if certificate.public_key_algorithm == "rsa":
        return SignatureScheme.RSA_PKCS1V15
    if certificate.public_key_algorithm in PostQuantumOID.ML_DSA.values():
        return SignatureScheme(certificate.public_key_algorithm)
    raise UnsupportedAlgorithmError(f"cannot sign with a {certificate.public_key_algorithm} key")


def _signing_choice(
    certificate: Certificate,
    scheme: SignatureScheme | None,
    digest: DigestAlgorithm,
    algorithms: AlgorithmPolicy,
) -> tuple[SignatureScheme, DigestAlgorithm]:
    """The scheme (by default the key's, `default_scheme`) and the digest a SignerInfo
    for ``certificate`` uses, the digest checked against ``algorithms``."""
    scheme = scheme or default_scheme(certificate)
    if scheme is SignatureScheme.ED25519:
        digest = DigestAlgorithm.SHA512  # RFC 8419 section 3: SHA-512 with Ed25519
    parameter_set = PARAMETER_SETS.get(scheme.value)
    if parameter_set is not None and digest.digest_size * 4 < parameter_set.strength:
        # RFC 9882 section 3.3: a digest as strong as the parameter set; SHA-512 always is.
        digest = DigestAlgorithm.SHA512
    algorithms.check_digest(digest)
    return scheme, digest


def build_signed_data(
    content: bytes | None,
    signer: Signer,
    *,
    digest: DigestAlgorithm,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    scheme: SignatureScheme | None = None,
    attributes: Sequence[bytes] = (),
    certificates: Sequence[Certificate] | None = None,
    signing_time: datetime | None = None,
    rsa_digest_in_signature_oid: bool = False,
    signed_attributes: bool = True,
) -> bytes:
    """DER ContentInfo(SignedData v1) over ``content`` (eContentType id-data).

    ``content=None`` leaves eContent absent. An RSA PKCS#1 v1.5 SignerInfo
    names rsaEncryption unless ``rsa_digest_in_signature_oid``.

    The signed attributes are contentType, messageDigest, signingTime when
    given, and ``attributes`` (each a DER Attribute); they are encoded as a DER SET (sorted) and
    exactly those bytes are signed. ``certificates`` defaults to the
    signer's certificate. ``content=None`` omits eContent (digest of no octets).

    ``signed_attributes=False`` (a bare CMS SignedData, not a pkiMessage) signs the
    content itself, with no signed attributes (RFC 5652 section 5.4); ``attributes``
    and ``signing_time`` must then be empty.
    """
    signer_certificate = signer.certificate
    scheme, digest = _signing_choice(signer_certificate, scheme, digest, algorithms)
    if not signed_attributes:
        if attributes or signing_time is not None or content is None:
            raise LocalProtocolError(
                "without signed attributes there is content and nothing else to sign"
            )
        signature = signer.sign(content, digest, scheme)
        return _assemble(
            content,
            signer_certificate,
            certificates,
            digest,
            der.sequence(
                der.integer(1),
                signer_certificate.issuer_and_serial_der,
                _digest_algorithm(digest),
                _signature_algorithm_der(scheme, digest, rsa_digest_in_signature_oid),
                der.octet_string(signature),
            ),
        )
    message_digest = backend.digest(digest, content or b"")
    all_attributes = [
        _CONTENT_TYPE_DATA,
        der.sequence(_MESSAGE_DIGEST_OID, der.set_of([der.octet_string(message_digest)])),
    ]
    if signing_time is not None:
        all_attributes.append(
            bytes(_attribute("signing_time", cms.Time({"utc_time": signing_time})).dump())
        )
    with parse_field("attributes"):
        for attribute in attributes:
            _check_attribute(attribute)
            all_attributes.append(bytes(attribute))
    attributes_content = b"".join(sorted(all_attributes))  # DER SET OF order
    signed_attrs_der = der.tlv(0x31, attributes_content)
    signature = signer.sign(signed_attrs_der, digest, scheme)
    signer_info = der.sequence(
        der.integer(1),
        signer_certificate.issuer_and_serial_der,
        _digest_algorithm(digest),
        # [0] IMPLICIT: the SET's contents under the context tag.
        der.context(0, attributes_content),
        _signature_algorithm_der(scheme, digest, rsa_digest_in_signature_oid),
        der.octet_string(signature),
    )
    return _assemble(content, signer_certificate, certificates, digest, signer_info)


def _assemble(
    content: bytes | None,
    signer_certificate: Certificate,
    certificates: Sequence[Certificate] | None,
    digest: DigestAlgorithm,
    signer_info: bytes,
) -> bytes:
    """The ContentInfo(SignedData v1) around one SignerInfo."""
    embedded = [signer_certificate] if certificates is None else list(certificates)
    encapsulated = [der.oid(_DATA)]
    if content is not None:
        encapsulated.append(der.context(0, der.octet_string(content)))
    parts = [
        der.integer(1),
        der.set_of([_digest_algorithm(digest)]),
        der.sequence(*encapsulated),
    ]
    if embedded:
        # [0] IMPLICIT SET OF: in DER order, as every SET.
        parts.append(der.context(0, b"".join(sorted(c.der for c in embedded))))
    parts.append(der.set_of([signer_info]))
    return der.sequence(der.oid(_SIGNED_DATA), der.context(0, der.sequence(*parts)))


_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_DATA = "1.2.840.113549.1.7.1"
_SIGNED_DATA = "1.2.840.113549.1.7.2"
# The same in every SignedData pyscep builds: encoded once.
_CONTENT_TYPE_DATA = der.sequence(der.oid(_CONTENT_TYPE), der.set_of([der.oid(_DATA)]))
_MESSAGE_DIGEST_OID = der.oid(_MESSAGE_DIGEST)


@lru_cache(maxsize=64)
def _digest_algorithm(digest: DigestAlgorithm) -> bytes:
    return bytes(algos.DigestAlgorithm({"algorithm": digest.value}).dump())


@lru_cache(maxsize=64)
def _signature_algorithm_der(
    scheme: SignatureScheme, digest: DigestAlgorithm, digest_in_oid: bool
) -> bytes:
    if scheme in ML_DSA_ALGORITHM_IDENTIFIERS:
        return ML_DSA_ALGORITHM_IDENTIFIERS[scheme]
    return bytes(_signature_algorithm(scheme, digest, digest_in_oid=digest_in_oid).dump())


def _check_attribute(attribute: bytes) -> None:
    """A caller's DER Attribute: SEQUENCE { OID, SET }, one element, nothing after.

    (The structure only: what a builder signs is the caller's to get right.)
    """
    end, content = _element(attribute, 0, 0x30)
    if end != len(attribute):
        raise ParseError("an attribute is one SEQUENCE, with nothing after it")
    after_type, _ = _element(attribute, content, 0x06)
    if _element(attribute, after_type, 0x31)[0] != end:
        raise ParseError("an attribute is SEQUENCE { OBJECT IDENTIFIER, SET }")


def _element(data: bytes, position: int, tag: int) -> tuple[int, int]:
    """(end, content start) of the DER element with ``tag`` at ``position`` (definite length)."""
    if position + 2 > len(data) or data[position] != tag:
        raise ParseError(f"expected tag 0x{tag:02x}")
    # Short lengths inline (this runs for every attribute of every build); long
    # forms through the one length reader.
    size, start = data[position + 1], position + 2
    if size & 0x80:
        size, start = read_length(data, position + 1, len(data))
        if size < 0:
            raise ParseError("an indefinite length")
    if start + size > len(data):
        raise ParseError("truncated")
    return start + size, start
